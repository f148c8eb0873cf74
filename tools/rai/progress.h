// Per-tensor progress of a long command on stderr: a bar redrawn in place when stderr is a
// terminal, one line per tensor with --verbose, nothing otherwise (so logs and pipes stay clean).
#pragma once
#include <cstddef>
#include <string>

class Progress {
public:
    Progress(size_t total, bool verbose);
    // Tensor `name` is done; `line` is its --verbose line.
    void step(const std::string &name, const std::string &line);
    // A message that must always be shown (a warning): clears the bar first.
    void note(const std::string &message);
    // Removes the bar.
    void finish();

private:
    void draw(const std::string &name);
    void clear();
    size_t total_, done_ = 0;
    bool verbose_, bar_;
    bool drawn_ = false;
};
