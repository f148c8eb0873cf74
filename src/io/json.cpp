#include "json.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "error.h"

namespace rai::json {

namespace {

class Parser {
public:
    Parser(const char *p, std::size_t n, const std::string &what) : s_(p), n_(n), what_(what) {}

    Value run() {
        skip_ws();
        Value v = value(0);
        skip_ws();
        if (i_ != n_) fail("unexpected data after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string &msg) const {
        throw Error(RAI_ERROR_FORMAT, what_ + ": invalid JSON at byte " + std::to_string(i_) + ": " + msg);
    }
    void skip_ws() {
        while (i_ < n_ && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
    }
    bool literal(const char *word) {
        const std::size_t len = std::strlen(word);
        if (n_ - i_ >= len && std::memcmp(s_ + i_, word, len) == 0) {
            i_ += len;
            return true;
        }
        return false;
    }
    Value value(int depth) {
        if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
        if (i_ >= n_) fail("unexpected end of input");
        Value v;
        const char c = s_[i_];
        if (c == '{') {
            v.kind = Kind::Object;
            ++i_;
            skip_ws();
            if (i_ < n_ && s_[i_] == '}') {
                ++i_;
                return v;
            }
            for (;;) {
                skip_ws();
                if (i_ >= n_ || s_[i_] != '"') fail("expected a string key");
                std::string key = string();
                skip_ws();
                if (i_ >= n_ || s_[i_] != ':') fail("expected ':'");
                ++i_;
                skip_ws();
                v.members.emplace_back(std::move(key), value(depth + 1));
                skip_ws();
                if (i_ < n_ && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                if (i_ < n_ && s_[i_] == '}') {
                    ++i_;
                    return v;
                }
                fail("expected ',' or '}'");
            }
        }
        if (c == '[') {
            v.kind = Kind::Array;
            ++i_;
            skip_ws();
            if (i_ < n_ && s_[i_] == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                skip_ws();
                v.items.push_back(value(depth + 1));
                skip_ws();
                if (i_ < n_ && s_[i_] == ',') {
                    ++i_;
                    continue;
                }
                if (i_ < n_ && s_[i_] == ']') {
                    ++i_;
                    return v;
                }
                fail("expected ',' or ']'");
            }
        }
        if (c == '"') {
            v.kind = Kind::String;
            v.text = string();
            return v;
        }
        if (literal("true")) {
            v.kind = Kind::Bool;
            v.boolean = true;
            return v;
        }
        if (literal("false")) {
            v.kind = Kind::Bool;
            return v;
        }
        if (literal("null")) return v;
        if (c == '-' || (c >= '0' && c <= '9')) {
            v.kind = Kind::Number;
            v.text = number();
            return v;
        }
        fail(std::string("unexpected character '") + (c >= 32 && c < 127 ? std::string(1, c) : "?") + "'");
    }
    std::string number() {
        const std::size_t start = i_;
        auto digits = [&] {
            const std::size_t d = i_;
            while (i_ < n_ && s_[i_] >= '0' && s_[i_] <= '9') ++i_;
            if (i_ == d) fail("malformed number");
        };
        if (s_[i_] == '-') ++i_;
        if (i_ < n_ && s_[i_] == '0') ++i_;
        else digits();
        if (i_ < n_ && s_[i_] == '.') {
            ++i_;
            digits();
        }
        if (i_ < n_ && (s_[i_] == 'e' || s_[i_] == 'E')) {
            ++i_;
            if (i_ < n_ && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
            digits();
        }
        return std::string(s_ + start, i_ - start);
    }
    unsigned hex4() {
        if (n_ - i_ < 4) fail("truncated \\u escape");
        unsigned v = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = s_[i_++];
            v <<= 4;
            if (h >= '0' && h <= '9') v |= static_cast<unsigned>(h - '0');
            else if (h >= 'a' && h <= 'f') v |= static_cast<unsigned>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') v |= static_cast<unsigned>(h - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return v;
    }
    static void put_utf8(std::string &out, unsigned cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }
    // Validates one UTF-8 sequence starting at i_ and copies it.
    void utf8_char(std::string &out) {
        const auto b0 = static_cast<unsigned char>(s_[i_]);
        int len = 0;
        unsigned cp = 0;
        if (b0 < 0x80) len = 1, cp = b0;
        else if ((b0 & 0xe0) == 0xc0) len = 2, cp = b0 & 0x1f;
        else if ((b0 & 0xf0) == 0xe0) len = 3, cp = b0 & 0x0f;
        else if ((b0 & 0xf8) == 0xf0) len = 4, cp = b0 & 0x07;
        else fail("invalid UTF-8");
        if (n_ - i_ < static_cast<std::size_t>(len)) fail("truncated UTF-8");
        for (int k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(s_[i_ + k]);
            if ((b & 0xc0) != 0x80) fail("invalid UTF-8");
            cp = cp << 6 | (b & 0x3f);
        }
        static const unsigned kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) fail("invalid UTF-8");
        out.append(s_ + i_, static_cast<std::size_t>(len));
        i_ += static_cast<std::size_t>(len);
    }
    std::string string() {
        ++i_;  // opening quote
        std::string out;
        for (;;) {
            if (i_ >= n_) fail("unterminated string");
            const auto c = static_cast<unsigned char>(s_[i_]);
            if (c == '"') {
                ++i_;
                return out;
            }
            if (c < 0x20) fail("control character in a string");
            if (c != '\\') {
                utf8_char(out);
                continue;
            }
            ++i_;
            if (i_ >= n_) fail("unterminated escape");
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
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (n_ - i_ < 2 || s_[i_] != '\\' || s_[i_ + 1] != 'u') fail("unpaired surrogate");
                    i_ += 2;
                    const unsigned lo = hex4();
                    if (lo < 0xdc00 || lo > 0xdfff) fail("unpaired surrogate");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    fail("unpaired surrogate");
                }
                put_utf8(out, cp);
                break;
            }
            default: fail("unknown escape");
            }
        }
    }

    const char *s_;
    std::size_t n_;
    std::size_t i_ = 0;
    const std::string &what_;
};

bool is_plain_integer(const std::string &t) {
    if (t.empty()) return false;
    for (char c : t)
        if (c == '.' || c == 'e' || c == 'E') return false;
    return true;
}

}  // namespace

const Value *Value::find(const std::string &key) const {
    if (kind != Kind::Object) return nullptr;
    for (const auto &m : members)
        if (m.first == key) return &m.second;
    return nullptr;
}

bool Value::as_int64(int64_t &out) const {
    if (kind != Kind::Number || !is_plain_integer(text)) return false;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

bool Value::as_uint64(uint64_t &out) const {
    if (kind != Kind::Number || !is_plain_integer(text) || text[0] == '-') return false;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

bool Value::as_double(double &out) const {
    if (kind != Kind::Number) return false;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
    return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

Value parse(const char *text, std::size_t size, const std::string &what) { return Parser(text, size, what).run(); }

void append_string(std::string &out, const std::string &s) {
    static const char *hex = "0123456789abcdef";
    out += '"';
    for (unsigned char c : s) {
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
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 15];
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

std::string python_float_repr(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v < 0 ? "-Infinity" : "Infinity";
    if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    const std::string sci(buf, r.ptr);  // "-d.ddde+XX" with the shortest round-trip digits
    const std::size_t epos = sci.find('e');
    std::string mant = sci.substr(0, epos);
    const int exp10 = std::stoi(sci.substr(epos + 1));
    const bool neg = mant[0] == '-';
    if (neg) mant.erase(0, 1);
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    std::string out = neg ? "-" : "";
    if (exp10 >= -4 && exp10 < 16) {
        if (exp10 < 0) {
            out += "0." + std::string(static_cast<std::size_t>(-exp10 - 1), '0') + digits;
        } else if (static_cast<int>(digits.size()) <= exp10 + 1) {
            out += digits + std::string(static_cast<std::size_t>(exp10 + 1 - static_cast<int>(digits.size())), '0') + ".0";
        } else {
            out += digits.substr(0, static_cast<std::size_t>(exp10 + 1)) + "." +
                   digits.substr(static_cast<std::size_t>(exp10 + 1));
        }
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char e[16];
    std::snprintf(e, sizeof e, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    return out + e;
}

}  // namespace rai::json
