// A small JSON value, reader and writer (RFC 8259), kept in its own file so that other
// capabilities can share it. Objects keep their insertion order (so unknown fields of a config
// survive a read/write round trip in place); numbers keep whether they were written as
// integers, so `"lora_alpha": 16` and `16.0` both read and each writes back as it was.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace rai::json {

class Value {
public:
    enum class Kind { Null, Bool, Number, String, Array, Object };

    Value() = default;
    static Value null() { return Value(); }
    static Value boolean(bool b);
    static Value number(double d);       // written as a float ("16.0")
    static Value integer(int64_t i);     // written as an integer ("16")
    static Value string(std::string s);
    static Value array();
    static Value object();

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::Null; }
    bool is_bool() const { return kind_ == Kind::Bool; }
    bool is_number() const { return kind_ == Kind::Number; }
    bool is_integer() const { return kind_ == Kind::Number && integral_; }
    bool is_string() const { return kind_ == Kind::String; }
    bool is_array() const { return kind_ == Kind::Array; }
    bool is_object() const { return kind_ == Kind::Object; }

    bool as_bool() const { return b_; }
    double as_number() const { return num_; }
    const std::string &as_string() const { return str_; }
    const std::vector<Value> &items() const { return arr_; }
    std::vector<Value> &items() { return arr_; }
    const std::vector<std::pair<std::string, Value>> &members() const { return obj_; }

    // Object access: find returns nullptr when absent; set replaces in place or appends.
    const Value *find(const std::string &key) const;
    Value *find(const std::string &key);
    void set(const std::string &key, Value v);
    bool erase(const std::string &key);
    void push(Value v) { arr_.push_back(std::move(v)); }

    static const char *kind_name(Kind k);

private:
    Kind kind_ = Kind::Null;
    bool b_ = false;
    bool integral_ = false;
    double num_ = 0;
    std::string str_;
    std::vector<Value> arr_;
    std::vector<std::pair<std::string, Value>> obj_;
};

// Parses `text`; throws rai::Error(RAI_ERROR_FORMAT, "<what>: ... at line L column C").
// Nesting deeper than 256 levels is refused.
Value parse(const std::string &text, const std::string &what);
// Writes `v`; indent > 0 pretty-prints with that many spaces per level (Python json style).
std::string dump(const Value &v, int indent = 0);

}  // namespace rai::json
