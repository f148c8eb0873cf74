#include "progress.h"

#include <unistd.h>

#include <cstdio>

Progress::Progress(size_t total, bool verbose) : total_(total), verbose_(verbose), bar_(!verbose && isatty(2) == 1) {}

void Progress::step(const std::string &name, const std::string &line) {
    ++done_;
    if (verbose_) std::fprintf(stderr, "%s\n", line.c_str());
    else if (bar_) draw(name);
}

void Progress::note(const std::string &message) {
    clear();
    std::fprintf(stderr, "%s\n", message.c_str());
}

void Progress::finish() { clear(); }

void Progress::draw(const std::string &name) {
    constexpr size_t kWidth = 30, kNameMax = 36;
    const size_t filled = total_ == 0 ? kWidth : done_ * kWidth / total_;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::string shown = name.size() > kNameMax ? "..." + name.substr(name.size() - (kNameMax - 3)) : name;
    std::fprintf(stderr, "\r[%s] %zu/%zu %-*s", bar.c_str(), done_, total_, static_cast<int>(kNameMax), shown.c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void Progress::clear() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r%*s\r", 80, "");
    std::fflush(stderr);
    drawn_ = false;
}
