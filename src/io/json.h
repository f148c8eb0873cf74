// A small, strict JSON reader and writer helpers (RFC 8259) for safetensors headers and
// bitsandbytes quant-state blobs. No dependencies. Objects keep their member order; numbers
// keep their text so integers are read exactly; nesting is limited so hostile input cannot
// exhaust the stack. Every syntax error throws rai::Error(RAI_ERROR_FORMAT) with the byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace rai::json {

enum class Kind { Null, Bool, Number, String, Array, Object };

struct Value {
    Kind kind = Kind::Null;
    bool boolean = false;
    std::string text;  // String: decoded UTF-8; Number: the literal as written
    std::vector<Value> items;                            // Array
    std::vector<std::pair<std::string, Value>> members;  // Object, in order

    // Member lookup (first match), nullptr when absent or not an object.
    const Value *find(const std::string &key) const;
    // Integer value of a Number written without fraction or exponent; false when it is not one
    // or does not fit.
    bool as_int64(int64_t &out) const;
    bool as_uint64(uint64_t &out) const;
    // Any Number as a double (locale-independent); false for non-numbers.
    bool as_double(double &out) const;
};

constexpr int kMaxDepth = 64;

// Parses text[0, size) as one JSON value followed only by whitespace. `what` names the input in
// error messages ("safetensors header").
Value parse(const char *text, std::size_t size, const std::string &what);

// Appends s as a JSON string literal (quotes and escapes) to out.
void append_string(std::string &out, const std::string &s);
// Python's repr() of a double (shortest round-trip digits; fixed for 1e-4 <= |v| < 1e16, else
// scientific with a two-digit exponent), which is what json.dumps writes for a float.
std::string python_float_repr(double v);

}  // namespace rai::json
