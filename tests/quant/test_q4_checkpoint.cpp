// bitsandbytes checkpoint keys written by rai: round trips through safetensors files (plain and
// double quant, NF4 and FP4, 1-D and 2-D), and every inconsistency a loader must reject.
#include <cstring>
#include <functional>
#include <string>

#include "q4_test_util.h"

namespace {

struct Item {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

// The items of a writer after rai_q4_state_save_bnb, read back through a file in memory.
std::vector<Item> saved_items(rai_context *ctx, const char *prefix, rai_q4_state *st, std::vector<uint8_t> &codes) {
    rai_safetensors_writer *w = nullptr;
    EXPECT_EQ(rai_safetensors_writer_create(&w), RAI_OK);
    const int64_t cs[1] = {static_cast<int64_t>(codes.size())};
    rai_tensor c = make_tensor(codes.data(), kU8, cs, 1);
    EXPECT_EQ(rai_q4_state_save_bnb(ctx, w, prefix, st, &c), RAI_OK) << rai_last_error_message();
    size_t size = 0;
    rai_safetensors_writer_serialize(w, nullptr, 0, &size);
    std::vector<uint8_t> bytes(size);
    EXPECT_EQ(rai_safetensors_writer_serialize(w, bytes.data(), size, &size), RAI_OK);
    rai_safetensors_writer_destroy(w);
    rai_safetensors *f = nullptr;
    EXPECT_EQ(rai_safetensors_open_memory(bytes.data(), size, &f), RAI_OK);
    size_t count = 0;
    rai_safetensors_count(f, &count);
    std::vector<Item> items;
    for (size_t i = 0; i < count; ++i) {
        rai_safetensors_tensor_info info;
        rai_safetensors_tensor_info_init(&info);
        rai_safetensors_get_info(f, i, &info);
        Item it;
        it.name = info.name;
        it.dtype = info.dtype_name;
        it.shape.assign(info.shape, info.shape + info.ndim);
        it.bytes.assign(static_cast<const uint8_t *>(info.data), static_cast<const uint8_t *>(info.data) + info.nbytes);
        items.push_back(std::move(it));
    }
    rai_safetensors_destroy(f);
    return items;
}

rai_status load_items(rai_context *ctx, const std::vector<Item> &items, const char *prefix, rai_q4_state **out) {
    rai_safetensors_writer *w = nullptr;
    rai_safetensors_writer_create(&w);
    for (const Item &it : items) {
        const rai_status st = rai_safetensors_writer_add_raw(w, it.name.c_str(), it.dtype.c_str(),
                                                             static_cast<int32_t>(it.shape.size()), it.shape.data(),
                                                             it.bytes.data(), it.bytes.size());
        EXPECT_EQ(st, RAI_OK) << rai_last_error_message();
    }
    size_t size = 0;
    rai_safetensors_writer_serialize(w, nullptr, 0, &size);
    std::vector<uint8_t> bytes(size);
    rai_safetensors_writer_serialize(w, bytes.data(), size, &size);
    rai_safetensors_writer_destroy(w);
    rai_safetensors *f = nullptr;
    EXPECT_EQ(rai_safetensors_open_memory(bytes.data(), size, &f), RAI_OK) << rai_last_error_message();
    const rai_status st = rai_q4_state_load_bnb(ctx, f, prefix, out);
    rai_safetensors_destroy(f);
    return st;
}

Item *find(std::vector<Item> &items, const std::string &name) {
    for (Item &it : items)
        if (it.name == name) return &it;
    return nullptr;
}

void set_json(std::vector<Item> &items, const std::string &key, const std::string &json) {
    Item *it = find(items, key);
    ASSERT_NE(it, nullptr) << key;
    it->bytes.assign(json.begin(), json.end());
    it->shape = {static_cast<int64_t>(json.size())};
}

class Q4Checkpoint : public CpuContextTest {};

}  // namespace

TEST_F(Q4Checkpoint, SaveLoadRoundTripsThroughAFile) {
    const std::string path = testing::TempDir() + "rai_q4_checkpoint.safetensors";
    for (int32_t type : {RAI_Q4_NF4, RAI_Q4_FP4})
        for (int32_t dq : {0, 1})
            for (bool two_d : {true, false}) {
                std::vector<int64_t> shape = two_d ? std::vector<int64_t>{300, 70} : std::vector<int64_t>{21001};
                int64_t n = 1;
                for (int64_t d : shape) n *= d;
                std::vector<float> w = normal_floats(static_cast<size_t>(n), 5);
                Q4Run r;
                ASSERT_RAI_OK(q4_quantize_host(ctx, w.data(), kF32, shape, type, 128, dq, r));
                rai_safetensors_writer *wr = nullptr;
                ASSERT_RAI_OK(rai_safetensors_writer_create(&wr));
                const int64_t cs[1] = {static_cast<int64_t>(r.codes.size())};
                rai_tensor c = make_tensor(r.codes.data(), kU8, cs, 1);
                ASSERT_RAI_OK(rai_q4_state_save_bnb(ctx, wr, "blk.ffn", r.state, &c));
                EXPECT_RAI_ERROR(rai_q4_state_save_bnb(ctx, wr, "blk.ffn", r.state, &c), RAI_ERROR_INVALID_ARGUMENT,
                                 "already added");
                ASSERT_RAI_OK(rai_safetensors_writer_save(wr, path.c_str()));
                rai_safetensors_writer_destroy(wr);
                rai_safetensors *f = nullptr;
                ASSERT_RAI_OK(rai_safetensors_open(path.c_str(), &f));
                rai_q4_state *st = nullptr;
                ASSERT_RAI_OK(rai_q4_state_load_bnb(ctx, f, "blk.ffn", &st));
                int64_t idx = -1;
                ASSERT_RAI_OK(rai_safetensors_find(f, "blk.ffn.weight", &idx));
                rai_tensor codes;
                ASSERT_RAI_OK(rai_safetensors_tensor_view(f, static_cast<size_t>(idx), &codes));
                EXPECT_EQ(codes.ndim, 2);
                EXPECT_EQ(codes.shape[1], 1);
                std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
                const int64_t ns[1] = {n};
                rai_tensor ta = make_tensor(a.data(), kF32, ns, 1), tb = make_tensor(b.data(), kF32, ns, 1);
                ASSERT_RAI_OK(rai_q4_dequantize(ctx, st, &codes, &ta));
                ASSERT_RAI_OK(rai_q4_dequantize(ctx, r.state, &c, &tb));
                EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4));
                rai_q4_state_info i1, i2;
                rai_q4_state_info_init(&i1);
                rai_q4_state_info_init(&i2);
                ASSERT_RAI_OK(rai_q4_state_get_info(st, &i1));
                ASSERT_RAI_OK(rai_q4_state_get_info(r.state, &i2));
                EXPECT_EQ(i1.offset, i2.offset);
                EXPECT_EQ(i1.ndim, i2.ndim);
                EXPECT_EQ(i1.type, type);
                rai_q4_state_destroy(st);
                rai_safetensors_destroy(f);
            }
    std::remove(path.c_str());
}

TEST_F(Q4Checkpoint, InconsistentKeysAreFormatErrors) {
    std::vector<float> w = normal_floats(64 * 600, 9);
    Q4Run r;
    ASSERT_RAI_OK(q4_quantize_host(ctx, w.data(), kF32, {600, 64}, RAI_Q4_NF4, 64, 1, r));
    const std::vector<Item> good = saved_items(ctx, "m", r.state, r.codes);
    rai_q4_state *st = nullptr;
    ASSERT_RAI_OK(load_items(ctx, good, "m", &st));
    rai_q4_state_destroy(st);
    st = nullptr;
    const std::string qs = "m.weight.quant_state.bitsandbytes__nf4";
    const Item *blob = nullptr;
    for (const Item &it : good)
        if (it.name == qs) blob = &it;
    ASSERT_NE(blob, nullptr);
    const std::string json(blob->bytes.begin(), blob->bytes.end());
    EXPECT_EQ(json.rfind("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"float32\", \"shape\": [600, 64], "
                         "\"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": ",
                         0),
              0u)
        << json;
    struct Case {
        const char *what;
        std::function<void(std::vector<Item> &)> edit;
        const char *fragment;
    };
    auto replace_in_json = [&](const std::string &from, const std::string &to) {
        return [=](std::vector<Item> &items) {
            std::string j = json;
            const size_t p = j.find(from);
            ASSERT_NE(p, std::string::npos) << from;
            j.replace(p, from.size(), to);
            set_json(items, qs, j);
        };
    };
    const std::vector<Case> cases = {
        {"blocksize 48", replace_in_json("\"blocksize\": 64", "\"blocksize\": 48"), "blocksize 48"},
        {"blocksize string", replace_in_json("\"blocksize\": 64", "\"blocksize\": \"64\""), "\"blocksize\""},
        {"quant_type mismatch", replace_in_json("\"nf4\"", "\"fp4\""), "unlike the key"},
        {"dtype", replace_in_json("\"float32\", \"shape\"", "\"int8\", \"shape\""), "\"dtype\""},
        {"shape", replace_in_json("[600, 64]", "[601, 64]"), "expected 19232 of codes (shape [601, 64]"},
        {"negative shape", replace_in_json("[600, 64]", "[-600, 64]"), "\"shape\""},
        {"nested blocksize", replace_in_json("\"nested_blocksize\": 256", "\"nested_blocksize\": 128"),
         "nested blocksize 128"},
        {"nested dtype", replace_in_json("\"nested_dtype\": \"float32\"", "\"nested_dtype\": \"float16\""),
         "nested_dtype"},
        {"nested offset", replace_in_json("\"nested_offset\": ", "\"nested_offset\": \"x\", \"y\": "), "nested_offset"},
        {"bad json", [&](std::vector<Item> &items) { set_json(items, qs, json.substr(0, json.size() - 1)); }, "invalid JSON"},
        {"not an object", [&](std::vector<Item> &items) { set_json(items, qs, "[1]"); }, "JSON object"},
        {"missing field", replace_in_json("\"quant_type\": \"nf4\", ", ""), "\"quant_type\""},
        {"quant_map values",
         [&](std::vector<Item> &items) { find(items, "m.weight.quant_map")->bytes[4] ^= 0x40; }, "codebook"},
        {"quant_map dtype",
         [&](std::vector<Item> &items) {
             Item *q = find(items, "m.weight.quant_map");
             q->dtype = "F16";
             q->shape = {32};
         },
         "m.weight.quant_map\" has dtype F16"},
        {"absmax count",
         [&](std::vector<Item> &items) {
             Item *a = find(items, "m.weight.absmax");
             a->bytes.pop_back();
             a->shape = {599};
         },
         "m.weight.absmax\" has 599 elements, expected 600"},
        {"nested absmax count",
         [&](std::vector<Item> &items) {
             Item *a = find(items, "m.weight.nested_absmax");
             a->bytes.resize(4);
             a->shape = {1};
         },
         "nested_absmax\" has 1 elements, expected 3"},
        {"codes too short",
         [&](std::vector<Item> &items) {
             Item *c = find(items, "m.weight");
             c->bytes.resize(100);
             c->shape = {100, 1};
         },
         "m.weight\" holds 100 bytes"},
        {"quant state not u8",
         [&](std::vector<Item> &items) {
             Item *q = find(items, qs);
             q->bytes.resize(q->bytes.size() / 4 * 4);
             q->dtype = "F32";
             q->shape = {static_cast<int64_t>(q->bytes.size() / 4)};
         },
         "1-D U8"},
        {"both quant states",
         [&](std::vector<Item> &items) {
             Item copy = *find(items, qs);
             copy.name = "m.weight.quant_state.bitsandbytes__fp4";
             items.push_back(copy);
         },
         "both present"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.what);
        std::vector<Item> items = good;
        c.edit(items);
        EXPECT_RAI_ERROR(load_items(ctx, items, "m", &st), RAI_ERROR_FORMAT, c.fragment);
        EXPECT_EQ(st, nullptr);
    }
    // Argument errors.
    rai_safetensors *f = nullptr;
    std::vector<uint8_t> empty = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    ASSERT_RAI_OK(rai_safetensors_open_memory(empty.data(), empty.size(), &f));
    EXPECT_RAI_ERROR(rai_q4_state_load_bnb(ctx, f, nullptr, &st), RAI_ERROR_INVALID_ARGUMENT, "prefix");
    EXPECT_RAI_ERROR(rai_q4_state_load_bnb(nullptr, f, "m", &st), RAI_ERROR_INVALID_ARGUMENT, "ctx");
    EXPECT_RAI_ERROR(rai_q4_state_load_bnb(ctx, f, "m", &st), RAI_ERROR_FORMAT, "is not a bitsandbytes 4-bit module");
    rai_safetensors_destroy(f);
    rai_safetensors_writer *wr = nullptr;
    ASSERT_RAI_OK(rai_safetensors_writer_create(&wr));
    const int64_t bad[1] = {5};
    rai_tensor c = make_tensor(r.codes.data(), kU8, bad, 1);
    EXPECT_RAI_ERROR(rai_q4_state_save_bnb(ctx, wr, "m", r.state, &c), RAI_ERROR_SHAPE_MISMATCH, "codes");
    size_t size = 0;
    rai_safetensors_writer_serialize(wr, nullptr, 0, &size);
    EXPECT_EQ(size, 8u + 8u);  // nothing was added by the failed call: "{}" padded to 8
    rai_safetensors_writer_destroy(wr);
}
