#include "json_text.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

std::string json_quote(const std::string &s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    return out + "\"";
}

namespace {

struct Cursor {
    const std::string &s;
    size_t i = 0;
    void skip_ws() {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    }
    bool eat(char c) {
        skip_ws();
        if (i < s.size() && s[i] == c) {
            ++i;
            return true;
        }
        return false;
    }
    bool string(std::string *out) {
        if (!eat('"')) return false;
        out->clear();
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\') {
                if (++i >= s.size()) return false;
                const char e = s[i];
                if (e == 'n') *out += '\n';
                else if (e == 't') *out += '\t';
                else if (e == 'r') *out += '\r';
                else if (e == '"' || e == '\\' || e == '/') *out += e;
                else return false;  // \u escapes never occur in the blobs rai writes
            } else {
                *out += s[i];
            }
            ++i;
        }
        return i++ < s.size();
    }
    bool number(double *out) {
        skip_ws();
        const char *begin = s.c_str() + i;
        char *end = nullptr;
        *out = std::strtod(begin, &end);
        if (end == begin) return false;
        i += static_cast<size_t>(end - begin);
        return true;
    }
};

}  // namespace

bool parse_flat_json(const std::string &text, std::map<std::string, FlatJsonValue> *out, std::string *why) {
    Cursor c{text};
    out->clear();
    auto bad = [&](const char *what) {
        *why = std::string(what) + " at byte " + std::to_string(c.i);
        return false;
    };
    if (!c.eat('{')) return bad("expected '{'");
    if (c.eat('}')) return true;
    do {
        std::string key;
        if (!c.string(&key)) return bad("expected a key string");
        if (!c.eat(':')) return bad("expected ':'");
        FlatJsonValue v;
        c.skip_ws();
        if (c.i < text.size() && text[c.i] == '"') {
            v.is_string = true;
            if (!c.string(&v.text)) return bad("unterminated string");
        } else if (c.eat('[')) {
            v.is_array = true;
            if (!c.eat(']')) {
                do {
                    double d;
                    if (!c.number(&d)) return bad("expected a number in an array");
                    v.values.push_back(d);
                } while (c.eat(','));
                if (!c.eat(']')) return bad("expected ']'");
            }
        } else if (!c.number(&v.number)) {
            return bad("expected a string, number or array of numbers");
        }
        if (!out->emplace(key, v).second) return bad(("duplicate key \"" + key + "\"").c_str());
    } while (c.eat(','));
    if (!c.eat('}')) return bad("expected '}'");
    c.skip_ws();
    if (c.i != text.size()) return bad("trailing characters");
    return true;
}
