#include "words.h"

#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "error.h"

namespace rai::ternary {

namespace {
constexpr std::size_t kAlign = 64;
}

Words::Words(std::size_t count) : n_(count) {
    if (count == 0) return;
    if (count > std::numeric_limits<std::size_t>::max() / sizeof(u64))
        throw Error(RAI_ERROR_OUT_OF_MEMORY, "packed vector of " + std::to_string(count) + " words is too large");
    void *p = ::operator new(count * sizeof(u64), std::align_val_t(kAlign), std::nothrow);
    if (p == nullptr)
        throw Error(RAI_ERROR_OUT_OF_MEMORY,
                    "could not allocate " + std::to_string(count * sizeof(u64)) + " bytes for a packed vector");
    std::memset(p, 0, count * sizeof(u64));
    p_ = static_cast<u64 *>(p);
}

Words::~Words() {
    if (p_ != nullptr) ::operator delete(p_, std::align_val_t(kAlign));
}

Words::Words(Words &&other) noexcept : p_(other.p_), n_(other.n_) {
    other.p_ = nullptr;
    other.n_ = 0;
}

Words &Words::operator=(Words &&other) noexcept {
    if (this != &other) {
        if (p_ != nullptr) ::operator delete(p_, std::align_val_t(kAlign));
        p_ = other.p_;
        n_ = other.n_;
        other.p_ = nullptr;
        other.n_ = 0;
    }
    return *this;
}

Words Words::clone() const {
    Words w(n_);
    if (n_ != 0) std::memcpy(w.p_, p_, n_ * sizeof(u64));
    return w;
}

std::size_t row_block_words(std::size_t rows, std::size_t wpad, const char *what) {
    const std::size_t per_row = 2 * wpad;
    if (per_row != 0 && rows > std::numeric_limits<std::size_t>::max() / sizeof(u64) / per_row)
        throw Error(RAI_ERROR_OUT_OF_MEMORY, std::string(what) + ": " + std::to_string(rows) + " rows of " +
                                                 std::to_string(per_row) + " words do not fit in memory");
    return rows * per_row;
}

}  // namespace rai::ternary
