#include "json_util.h"

#include <cmath>

namespace rai::jsonu {

Value null() { return Value{}; }
Value boolean(bool b) {
    Value v;
    v.kind = Kind::Bool;
    v.boolean = b;
    return v;
}
Value integer(int64_t i) {
    Value v;
    v.kind = Kind::Number;
    v.text = std::to_string(i);
    return v;
}
Value number(double d) {
    Value v;
    v.kind = Kind::Number;
    v.text = rai::json::python_float_repr(d);
    return v;
}
Value string(const std::string &s) {
    Value v;
    v.kind = Kind::String;
    v.text = s;
    return v;
}
Value array() {
    Value v;
    v.kind = Kind::Array;
    return v;
}
Value object() {
    Value v;
    v.kind = Kind::Object;
    return v;
}

bool is_integer(const Value &v) {
    int64_t i;
    return v.kind == Kind::Number && v.as_int64(i);
}
double as_number(const Value &v) {
    double d = 0;
    return v.as_double(d) ? d : 0.0;
}
Value *find(Value &obj, const std::string &key) {
    for (auto &kv : obj.members)
        if (kv.first == key) return &kv.second;
    return nullptr;
}
void set(Value &obj, const std::string &key, Value v) {
    if (Value *old = find(obj, key)) {
        *old = std::move(v);
        return;
    }
    obj.members.emplace_back(key, std::move(v));
}
const char *kind_name(Kind k) {
    switch (k) {
        case Kind::Null: return "null";
        case Kind::Bool: return "a boolean";
        case Kind::Number: return "a number";
        case Kind::String: return "a string";
        case Kind::Array: return "an array";
        case Kind::Object: return "an object";
    }
    return "?";
}

Value parse(const std::string &text, const std::string &what) { return rai::json::parse(text.data(), text.size(), what); }

namespace {
void write(std::string &out, const Value &v, int indent, int level) {
    auto newline = [&](int lvl) {
        if (indent <= 0) return;
        out += '\n';
        out.append(static_cast<std::size_t>(indent * lvl), ' ');
    };
    switch (v.kind) {
        case Kind::Null: out += "null"; break;
        case Kind::Bool: out += v.boolean ? "true" : "false"; break;
        case Kind::Number: out += v.text; break;
        case Kind::String: rai::json::append_string(out, v.text); break;
        case Kind::Array:
            if (v.items.empty()) {
                out += "[]";
                break;
            }
            out += '[';
            for (std::size_t k = 0; k < v.items.size(); ++k) {
                if (k) out += indent > 0 ? "," : ", ";
                newline(level + 1);
                write(out, v.items[k], indent, level + 1);
            }
            newline(level);
            out += ']';
            break;
        case Kind::Object:
            if (v.members.empty()) {
                out += "{}";
                break;
            }
            out += '{';
            for (std::size_t k = 0; k < v.members.size(); ++k) {
                if (k) out += indent > 0 ? "," : ", ";
                newline(level + 1);
                rai::json::append_string(out, v.members[k].first);
                out += ": ";
                write(out, v.members[k].second, indent, level + 1);
            }
            newline(level);
            out += '}';
            break;
    }
}
}  // namespace

std::string dump(const Value &v, int indent) {
    std::string out;
    write(out, v, indent, 0);
    return out;
}

}  // namespace rai::jsonu
