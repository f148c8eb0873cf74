// Building, editing and writing rai::json::Value (the parser lives in src/io/json.h): the
// adapters need to write adapter_config.json with PEFT's layout and keep unknown fields.
#pragma once
#include <cstdint>
#include <string>

#include "../io/json.h"

namespace rai::jsonu {

using rai::json::Kind;
using rai::json::Value;

Value null();
Value boolean(bool b);
Value integer(int64_t i);
Value number(double d);  // written as Python writes a float ("16.0")
Value string(const std::string &s);
Value array();
Value object();

bool is_integer(const Value &v);  // a Number written without fraction or exponent
double as_number(const Value &v);  // any Number (0 for others)
Value *find(Value &obj, const std::string &key);
void set(Value &obj, const std::string &key, Value v);  // replaces in place or appends
const char *kind_name(Kind k);

// Parses text (throws RAI_ERROR_FORMAT naming `what`).
Value parse(const std::string &text, const std::string &what);
// Writes v; indent > 0 pretty-prints like Python's json.dumps(indent=...).
std::string dump(const Value &v, int indent = 0);

}  // namespace rai::jsonu
