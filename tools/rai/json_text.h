// JSON text for the CLI's --json output and the small flat objects rai writes into checkpoints
// (the ternary quant state). The parser takes exactly one flat object whose values are strings,
// numbers or arrays of numbers: anything else (nesting, true/false/null) is refused, because
// no such blob is written by rai.
#pragma once
#include <map>
#include <string>
#include <vector>

// A quoted JSON string literal of s (control characters, quotes and backslashes escaped).
std::string json_quote(const std::string &s);

struct FlatJsonValue {
    bool is_string = false;
    bool is_array = false;
    std::string text;            // strings
    double number = 0;           // numbers
    std::vector<double> values;  // arrays of numbers
};

// Parses a flat JSON object; false (and *why) on anything else.
bool parse_flat_json(const std::string &text, std::map<std::string, FlatJsonValue> *out, std::string *why);
