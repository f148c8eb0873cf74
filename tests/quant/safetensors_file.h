// A safetensors file opened for a test, with typed views of its tensors and metadata.
#pragma once
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "rai.h"

struct File {
    rai_safetensors *f = nullptr;
    explicit File(const std::string &path) {
        EXPECT_EQ(rai_safetensors_open(path.c_str(), &f), RAI_OK) << rai_last_error_message();
    }
    ~File() { rai_safetensors_destroy(f); }
    rai_safetensors_tensor_info info(const std::string &name) const {
        rai_safetensors_tensor_info i;
        rai_safetensors_tensor_info_init(&i);
        int64_t idx = -1;
        EXPECT_EQ(rai_safetensors_find(f, name.c_str(), &idx), RAI_OK);
        EXPECT_GE(idx, 0) << name;
        if (idx >= 0) {
            EXPECT_EQ(rai_safetensors_get_info(f, static_cast<size_t>(idx), &i), RAI_OK);
        }
        return i;
    }
    rai_tensor view(const std::string &name) const {
        rai_tensor t{};
        int64_t idx = -1;
        EXPECT_EQ(rai_safetensors_find(f, name.c_str(), &idx), RAI_OK);
        EXPECT_GE(idx, 0) << name;
        EXPECT_EQ(rai_safetensors_tensor_view(f, static_cast<size_t>(idx), &t), RAI_OK) << rai_last_error_message();
        return t;
    }
    template <class T>
    std::vector<T> values(const std::string &name) const {
        const rai_safetensors_tensor_info i = info(name);
        std::vector<T> v(i.nbytes / sizeof(T));
        std::memcpy(v.data(), i.data, v.size() * sizeof(T));
        return v;
    }
    std::string meta(const std::string &key) const {
        const char *v = nullptr;
        EXPECT_EQ(rai_safetensors_metadata_find(f, key.c_str(), &v), RAI_OK);
        return v ? v : "";
    }
};
