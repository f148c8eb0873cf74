// The safetensors side shared by the 4-bit and the ternary outputs: unchanged copies (the
// tensor's bytes and safetensors dtype name as they are), metadata, and the atomic save.
#pragma once
#include "host_tensor.h"
#include "quantize_output.h"

class SafetensorsOutput : public QuantizeOutput {
public:
    SafetensorsOutput() { rai_safetensors_writer_create(&writer_); }
    ~SafetensorsOutput() override { rai_safetensors_writer_destroy(writer_); }
    SafetensorsOutput(const SafetensorsOutput &) = delete;
    SafetensorsOutput &operator=(const SafetensorsOutput &) = delete;

    bool copy(const rai_safetensors_tensor_info &info, std::string *why) override {
        const rai_status st = rai_safetensors_writer_add_raw(writer_, info.name, info.dtype_name, info.ndim, info.shape,
                                                             info.data, info.nbytes);
        return st == RAI_OK || (*why = api_error(info.name, st), false);
    }
    bool set_metadata(const std::string &key, const std::string &value, std::string *why) override {
        const rai_status st = rai_safetensors_writer_set_metadata(writer_, key.c_str(), value.c_str());
        return st == RAI_OK || (*why = api_error("metadata \"" + key + "\"", st), false);
    }
    bool save(const char *path, std::string *why) override {
        const rai_status st = rai_safetensors_writer_save(writer_, path);
        return st == RAI_OK || (*why = api_error(path, st), false);
    }

protected:
    // Adds a tensor the output made (codes, scales, a JSON blob as u8).
    bool add(const std::string &name, const rai_tensor &t, std::string *why) {
        const rai_status st = rai_safetensors_writer_add(writer_, name.c_str(), &t);
        return st == RAI_OK || (*why = api_error(name, st), false);
    }
    rai_safetensors_writer *writer_ = nullptr;
};
