#include "json.h"

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../core/error.h"

namespace rai::json {

Value Value::boolean(bool b) {
    Value v;
    v.kind_ = Kind::Bool;
    v.b_ = b;
    return v;
}
Value Value::number(double d) {
    Value v;
    v.kind_ = Kind::Number;
    v.num_ = d;
    return v;
}
Value Value::integer(int64_t i) {
    Value v;
    v.kind_ = Kind::Number;
    v.num_ = static_cast<double>(i);
    v.integral_ = true;
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.kind_ = Kind::String;
    v.str_ = std::move(s);
    return v;
}
Value Value::array() {
    Value v;
    v.kind_ = Kind::Array;
    return v;
}
Value Value::object() {
    Value v;
    v.kind_ = Kind::Object;
    return v;
}

const Value *Value::find(const std::string &key) const {
    for (const auto &kv : obj_)
        if (kv.first == key) return &kv.second;
    return nullptr;
}
Value *Value::find(const std::string &key) {
    for (auto &kv : obj_)
        if (kv.first == key) return &kv.second;
    return nullptr;
}
void Value::set(const std::string &key, Value v) {
    if (Value *old = find(key)) {
        *old = std::move(v);
        return;
    }
    obj_.emplace_back(key, std::move(v));
}
bool Value::erase(const std::string &key) {
    for (auto it = obj_.begin(); it != obj_.end(); ++it)
        if (it->first == key) {
            obj_.erase(it);
            return true;
        }
    return false;
}

const char *Value::kind_name(Kind k) {
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

namespace {

class Parser {
public:
    Parser(const std::string &t, const std::string &what) : s_(t), what_(what) {}

    Value document() {
        skip_ws();
        Value v = value(0);
        skip_ws();
        if (i_ != s_.size()) fail("unexpected text after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string &msg) const {
        std::size_t line = 1, col = 1;
        for (std::size_t k = 0; k < i_ && k < s_.size(); ++k) {
            if (s_[k] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        throw Error(RAI_ERROR_FORMAT,
                    what_ + ": invalid JSON: " + msg + " at line " + std::to_string(line) + " column " + std::to_string(col));
    }
    void skip_ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool literal(const char *lit) {
        const std::size_t n = std::strlen(lit);
        if (s_.compare(i_, n, lit) == 0) {
            i_ += n;
            return true;
        }
        return false;
    }
    Value value(int depth) {
        if (depth > 256) fail("nesting deeper than 256 levels");
        if (i_ >= s_.size()) fail("unexpected end of input");
        const char c = s_[i_];
        if (c == '{') return object(depth);
        if (c == '[') return array(depth);
        if (c == '"') return Value::string(string());
        if (c == 't' && literal("true")) return Value::boolean(true);
        if (c == 'f' && literal("false")) return Value::boolean(false);
        if (c == 'n' && literal("null")) return Value::null();
        // Python's json writes these for non-finite floats; accept them on input.
        if (c == 'N' && literal("NaN")) return Value::number(std::nan(""));
        if (c == 'I' && literal("Infinity")) return Value::number(HUGE_VAL);
        if (c == '-' && s_.compare(i_, 9, "-Infinity") == 0) {
            i_ += 9;
            return Value::number(-HUGE_VAL);
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number();
        fail(std::string("unexpected character '") + c + "'");
    }
    Value number() {
        const std::size_t start = i_;
        bool integral = true;
        if (s_[i_] == '-') ++i_;
        if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("malformed number");
        if (s_[i_] == '0') {
            ++i_;
        } else {
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        }
        if (i_ < s_.size() && s_[i_] == '.') {
            integral = false;
            ++i_;
            if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("malformed number");
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        }
        if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
            integral = false;
            ++i_;
            if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_]))) fail("malformed number");
            while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
        }
        const std::string text = s_.substr(start, i_ - start);
        const double d = std::strtod(text.c_str(), nullptr);
        if (integral && std::fabs(d) < 9.0e15) return Value::integer(std::strtoll(text.c_str(), nullptr, 10));
        return Value::number(d);
    }
    unsigned hex4() {
        if (i_ + 4 > s_.size()) fail("truncated \\u escape");
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
            const char c = s_[i_++];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= static_cast<unsigned>(c - '0');
            else if (c >= 'a' && c <= 'f') v |= static_cast<unsigned>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= static_cast<unsigned>(c - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return v;
    }
    static void utf8(std::string &out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    std::string string() {
        ++i_;  // opening quote
        std::string out;
        for (;;) {
            if (i_ >= s_.size()) fail("unterminated string");
            const char c = s_[i_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) fail("unterminated escape");
            const char e = s_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00) {
                        if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("lone surrogate");
                        i_ += 2;
                        const unsigned lo = hex4();
                        if (lo < 0xDC00 || lo >= 0xE000) fail("bad low surrogate");
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else if (cp >= 0xDC00 && cp < 0xE000) {
                        fail("lone surrogate");
                    }
                    utf8(out, cp);
                    break;
                }
                default: fail(std::string("bad escape '\\") + e + "'");
            }
        }
    }
    Value array(int depth) {
        ++i_;
        Value v = Value::array();
        skip_ws();
        if (i_ < s_.size() && s_[i_] == ']') {
            ++i_;
            return v;
        }
        for (;;) {
            skip_ws();
            v.push(value(depth + 1));
            skip_ws();
            if (i_ >= s_.size()) fail("unterminated array");
            if (s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (s_[i_] == ']') {
                ++i_;
                return v;
            }
            fail("expected ',' or ']' in array");
        }
    }
    Value object(int depth) {
        ++i_;
        Value v = Value::object();
        skip_ws();
        if (i_ < s_.size() && s_[i_] == '}') {
            ++i_;
            return v;
        }
        for (;;) {
            skip_ws();
            if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string key in object");
            std::string key = string();
            skip_ws();
            if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':' after object key");
            ++i_;
            skip_ws();
            Value item = value(depth + 1);
            if (v.find(key) != nullptr) fail("duplicate key \"" + key + "\"");
            v.set(key, std::move(item));
            skip_ws();
            if (i_ >= s_.size()) fail("unterminated object");
            if (s_[i_] == ',') {
                ++i_;
                continue;
            }
            if (s_[i_] == '}') {
                ++i_;
                return v;
            }
            fail("expected ',' or '}' in object");
        }
    }

    const std::string &s_;
    std::string what_;
    std::size_t i_ = 0;
};

void write_string(std::string &out, const std::string &s) {
    out += '"';
    for (const char ch : s) {
        const unsigned char c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += ch;
                }
        }
    }
    out += '"';
}

void write_number(std::string &out, double d, bool integral) {
    if (std::isnan(d)) {
        out += "NaN";
        return;
    }
    if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
        return;
    }
    char buf[40];
    if (integral) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
        out += buf;
        return;
    }
    // Shortest text that reads back to the same double (Python's repr does the same).
    for (int prec = 1; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*g", prec, d);
        if (std::strtod(buf, nullptr) == d) break;
    }
    std::string t = buf;
    if (t.find_first_of(".eEn") == std::string::npos) t += ".0";
    out += t;
}

void write(std::string &out, const Value &v, int indent, int level) {
    auto newline = [&](int lvl) {
        if (indent <= 0) return;
        out += '\n';
        out.append(static_cast<std::size_t>(indent * lvl), ' ');
    };
    switch (v.kind()) {
        case Value::Kind::Null: out += "null"; break;
        case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; break;
        case Value::Kind::Number: write_number(out, v.as_number(), v.is_integer()); break;
        case Value::Kind::String: write_string(out, v.as_string()); break;
        case Value::Kind::Array:
            if (v.items().empty()) {
                out += "[]";
                break;
            }
            out += '[';
            for (std::size_t k = 0; k < v.items().size(); ++k) {
                if (k) out += indent > 0 ? "," : ", ";
                newline(level + 1);
                write(out, v.items()[k], indent, level + 1);
            }
            newline(level);
            out += ']';
            break;
        case Value::Kind::Object:
            if (v.members().empty()) {
                out += "{}";
                break;
            }
            out += '{';
            for (std::size_t k = 0; k < v.members().size(); ++k) {
                if (k) out += indent > 0 ? "," : ", ";
                newline(level + 1);
                write_string(out, v.members()[k].first);
                out += ": ";
                write(out, v.members()[k].second, indent, level + 1);
            }
            newline(level);
            out += '}';
            break;
    }
}

}  // namespace

Value parse(const std::string &text, const std::string &what) { return Parser(text, what).document(); }

std::string dump(const Value &v, int indent) {
    std::string out;
    write(out, v, indent, 0);
    return out;
}

}  // namespace rai::json
