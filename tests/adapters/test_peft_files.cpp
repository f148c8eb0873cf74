// HF PEFT files: golden fixtures written by peft (tests/adapters/golden, see
// make_peft_golden.py) loaded and matched module by module within 1e-5 in fp32; save/load
// round trips with PEFT key names; loader tolerance and loud failures; the JSON and
// safetensors codecs.
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "../../src/adapters/json_util.h"
#include "../../src/core/error.h"
#include "../../src/adapters/tensor_file.h"
#include "adapter_test_util.h"

namespace ra = rai::adapters;
namespace jsonu = rai::jsonu;

namespace {

const std::string kGolden = RAI_GOLDEN_DIR;

std::string temp_dir(const char *tag) {
    std::string t = "/tmp/rai-adapters-" + std::string(tag) + "-" + std::to_string(getpid());
    std::string cmd = "rm -rf '" + t + "' && mkdir -p '" + t + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return t;
}

std::string slurp(const std::string &path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

void spit(const std::string &path, const std::string &text) {
    std::ofstream out(path);
    out << text;
}

// Registers every linear weight of the golden tiny Llama as a base module.
class Golden : public ModelTest {
protected:
    void SetUp() override {
        ModelTest::SetUp();
        base = ra::read_tensor_file(kGolden + "/base/model.safetensors");
        for (const ra::FileTensor &t : base.tensors) {
            if (t.shape.size() != 2 || t.name == "model.embed_tokens.weight") continue;
            ASSERT_EQ(t.dtype, "F32");
            ASSERT_EQ(t.name.substr(t.name.size() - 7), ".weight");
            rai_tensor w = make_tensor(const_cast<uint8_t *>(t.bytes.data()), kF32, t.shape.data(), 2);
            ASSERT_RAI_OK(rai_adapter_model_add_linear(model, t.name.substr(0, t.name.size() - 7).c_str(), &w, nullptr, 0));
        }
    }
    // Every recorded module: rai's output against peft's, within 1e-5 (relative to max |y|).
    int match(const std::string &tuner) {
        const ra::TensorFile io = ra::read_tensor_file(kGolden + "/" + tuner + "/io.safetensors");
        int checked = 0;
        for (const ra::FileTensor &xt : io.tensors) {
            if (xt.name.size() < 2 || xt.name.substr(xt.name.size() - 2) != ".x") continue;
            const std::string mod = xt.name.substr(0, xt.name.size() - 2);
            const ra::FileTensor *yt = io.find(mod + ".y");
            EXPECT_NE(yt, nullptr);
            if (yt == nullptr) continue;
            HostT x(xt.shape), y(yt->shape);
            std::memcpy(x.v.data(), xt.bytes.data(), xt.bytes.size());
            HostT out(yt->shape);
            EXPECT_EQ(rai_adapter_forward(model, mod.c_str(), &x, &out), RAI_OK) << rai_last_error_message();
            std::memcpy(y.v.data(), yt->bytes.data(), yt->bytes.size());
            const float tol = 1e-5f * std::max(1.0f, y.max_abs());
            EXPECT_LE(max_diff(out.v, y.v), tol) << tuner << " " << mod;
            ++checked;
        }
        return checked;
    }
    ra::TensorFile base;
};

TEST_F(Golden, LoraMatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/lora").c_str(), "lora"));
    EXPECT_EQ(match("lora"), 7);
}
TEST_F(Golden, DoraWithRsLoraAndPatternsMatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/dora").c_str(), "dora"));
    EXPECT_EQ(match("dora"), 3);
}
TEST_F(Golden, Ia3MatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/ia3").c_str(), "ia3"));
    EXPECT_EQ(match("ia3"), 3);
}
TEST_F(Golden, VeraMatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/vera").c_str(), "vera"));
    EXPECT_EQ(match("vera"), 2);
}
TEST_F(Golden, LohaMatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/loha").c_str(), "loha"));
    EXPECT_EQ(match("loha"), 2);
}
TEST_F(Golden, LokrMatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/lokr").c_str(), "lokr"));
    EXPECT_EQ(match("lokr"), 2);
}

// Ranks pruned by peft's RankAllocator: down_proj 4, v_proj 5, q_proj 0 of init_r 6.
TEST_F(Golden, AdaloraWithRankPatternMatchesPeft) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/adalora").c_str(), "adalora"));
    EXPECT_EQ(match("adalora"), 3);
    char *keys = nullptr;
    ASSERT_RAI_OK(rai_adapter_tensors_json(model, "adalora", &keys));
    EXPECT_NE(std::string(keys).find("\"key\": \"base_model.model.model.layers.0.self_attn.q_proj.lora_A\",\n    \"shape\": [\n      0,"),
              std::string::npos)
        << keys;
    rai_free(keys);
    ASSERT_RAI_OK(rai_adapter_merge(model, nullptr, 0, RAI_ADAPTER_MERGE_SAFE));
    EXPECT_EQ(match("adalora"), 3);
}

// A file holding all init_r singular values (as PEFT keeps them in memory) with the same
// rank_pattern: the pruned ones must not count, whatever their values.
TEST_F(Golden, AdaloraUnprunedTensorsAreMaskedByRankPattern) {
    const std::string dir = temp_dir("adalora-full");
    std::system(("cp '" + kGolden + "/adalora/adapter_config.json' '" + dir + "/'").c_str());
    const ra::TensorFile g = ra::read_tensor_file(kGolden + "/adalora/adapter_model.safetensors");
    const std::map<std::string, std::vector<int>> keep = {{"model.layers.0.mlp.down_proj", {0, 0, 1, 1, 1, 1}},
                                                          {"model.layers.0.self_attn.q_proj", {0, 0, 0, 0, 0, 0}},
                                                          {"model.layers.0.self_attn.v_proj", {1, 1, 1, 1, 0, 1}}};
    ra::TensorFile full;
    for (const auto &kv : keep) {
        const std::string pre = "base_model.model." + kv.first + ".";
        const ra::FileTensor &A = *g.find(pre + "lora_A"), &B = *g.find(pre + "lora_B"), &E = *g.find(pre + "lora_E");
        const int64_t in = A.shape[1], out = B.shape[0];
        std::vector<float> a(6 * in, 0.5f), e(6, 3.0f), b(out * 6, -0.5f);  // pruned: large, non-zero
        int64_t kk = 0;
        for (int q = 0; q < 6; ++q) {
            if (!kv.second[q]) continue;
            std::memcpy(&a[q * in], A.bytes.data() + kk * in * 4, in * 4);
            std::memcpy(&e[q], E.bytes.data() + kk * 4, 4);
            for (int64_t o = 0; o < out; ++o) std::memcpy(&b[o * 6 + q], B.bytes.data() + (o * A.shape[0] + kk) * 4, 4);
            ++kk;
        }
        auto put = [&](const char *sfx, std::vector<int64_t> shape, const std::vector<float> &v) {
            ra::FileTensor t;
            t.name = pre + sfx + ".default";  // in-memory PEFT names, adapter name included
            t.dtype = "F32";
            t.shape = std::move(shape);
            t.bytes.resize(v.size() * 4);
            std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
            full.tensors.push_back(std::move(t));
        };
        put("lora_A", {6, in}, a);
        put("lora_E", {6, 1}, e);
        put("lora_B", {out, 6}, b);
    }
    ra::write_tensor_file(dir + "/adapter_model.safetensors", full);
    ASSERT_RAI_OK(rai_adapter_load_peft(model, dir.c_str(), "adalora"));
    EXPECT_EQ(match("adalora"), 3);
    // Without the pattern the same file is a plain init_r adapter: the pruned values count.
    std::string c = slurp(dir + "/adapter_config.json");
    const auto b = c.find("\"rank_pattern\": {"), e = c.find("}", b);
    c.replace(b, e + 1 - b, "\"rank_pattern\": null");
    spit(dir + "/adapter_config.json", c);
    ASSERT_RAI_OK(rai_adapter_load_peft(model, dir.c_str(), "unmasked"));
    const char *n[] = {"unmasked"};
    ASSERT_RAI_OK(rai_adapter_set_active(model, n, nullptr, 1));
    const ra::TensorFile io = ra::read_tensor_file(kGolden + "/adalora/io.safetensors");
    HostT x({3, 64}), y({3, 32});
    std::memcpy(x.v.data(), io.find("model.layers.0.self_attn.v_proj.x")->bytes.data(), 3 * 64 * 4);
    ASSERT_RAI_OK(rai_adapter_forward(model, "model.layers.0.self_attn.v_proj", &x, &y));
    HostT ref({3, 32});
    std::memcpy(ref.v.data(), io.find("model.layers.0.self_attn.v_proj.y")->bytes.data(), 3 * 32 * 4);
    EXPECT_GT(max_diff(y.v, ref.v), 0.1f);
    // A file that matches neither init_r nor the kept count is refused with the tensor named.
    for (ra::FileTensor &t : full.tensors)
        if (t.name.find("v_proj.lora_A") != std::string::npos) {
            t.shape = {3, 64};
            t.bytes.resize(3 * 64 * 4);
        }
    ra::write_tensor_file(dir + "/adapter_model.safetensors", full);
    std::system(("cp '" + kGolden + "/adalora/adapter_config.json' '" + dir + "/'").c_str());
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "bad"), RAI_ERROR_SHAPE_MISMATCH, "v_proj.lora_A");
    std::system(("rm -rf '" + dir + "'").c_str());
}

TEST_F(Golden, MergedGoldenLoraMatches) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/lora").c_str(), "lora"));
    ASSERT_RAI_OK(rai_adapter_merge(model, nullptr, 0, RAI_ADAPTER_MERGE_SAFE));
    EXPECT_EQ(match("lora"), 7);
}

TEST_F(Golden, SaveWritesPeftKeysAndReloads) {
    for (const char *tuner : {"lora", "dora", "ia3", "vera", "loha", "lokr", "adalora"}) {
        ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/" + tuner).c_str(), tuner));
        const std::string dir = temp_dir(tuner);
        ASSERT_RAI_OK(rai_adapter_save_peft(model, tuner, dir.c_str(), nullptr));
        const ra::TensorFile theirs = ra::read_tensor_file(kGolden + "/" + tuner + "/adapter_model.safetensors");
        const ra::TensorFile ours = ra::read_tensor_file(dir + "/adapter_model.safetensors");
        ASSERT_EQ(ours.tensors.size(), theirs.tensors.size()) << tuner;
        for (const ra::FileTensor &t : theirs.tensors) {
            const ra::FileTensor *o = ours.find(t.name);
            ASSERT_NE(o, nullptr) << tuner << ": " << t.name;
            EXPECT_EQ(o->shape, t.shape) << t.name;
            EXPECT_EQ(o->bytes, t.bytes) << t.name;  // fp32 round trip is exact
        }
        ASSERT_EQ(ours.metadata.size(), 1u);
        EXPECT_EQ(ours.metadata[0].first, "format");
        EXPECT_EQ(ours.metadata[0].second, "pt");
        const std::string cfg = slurp(dir + "/adapter_config.json");
        EXPECT_NE(cfg.find("\"peft_type\""), std::string::npos);
        EXPECT_NE(cfg.find("\"auto_mapping\""), std::string::npos);  // an unknown field, kept
        if (std::string(tuner) == "adalora") {  // the allocator's result survives the round trip
            EXPECT_NE(cfg.find("\"model.layers.0.self_attn.v_proj.lora_E\": [\n      true,\n      true,\n      true,\n      "
                               "true,\n      false,\n      true\n    ]"),
                      std::string::npos)
                << cfg;
        }
        // Reload under another name and compare outputs.
        const std::string again = std::string(tuner) + "2";
        ASSERT_RAI_OK(rai_adapter_load_peft(model, dir.c_str(), again.c_str()));
        const char *n[] = {again.c_str()};
        ASSERT_RAI_OK(rai_adapter_set_active(model, n, nullptr, 1));
        match(tuner);
        std::system(("rm -rf '" + dir + "'").c_str());
    }
}

TEST_F(Golden, Bf16SaveLoadsWithinBf16Tolerance) {
    ASSERT_RAI_OK(rai_adapter_load_peft(model, (kGolden + "/lora").c_str(), "lora"));
    const std::string dir = temp_dir("bf16");
    const rai_dtype bf16 = kBF16;
    ASSERT_RAI_OK(rai_adapter_save_peft(model, "lora", dir.c_str(), &bf16));
    const ra::TensorFile ours = ra::read_tensor_file(dir + "/adapter_model.safetensors");
    EXPECT_EQ(ours.tensors[0].dtype, "BF16");
    ASSERT_RAI_OK(rai_adapter_load_peft(model, dir.c_str(), "lora_bf16"));
    std::system(("rm -rf '" + dir + "'").c_str());
}

// ---------------------------------------------------------------- loader tolerance / failures

class Tolerance : public Golden {
protected:
    void SetUp() override {
        Golden::SetUp();
        dir = temp_dir("tol");
        std::system(("cp '" + kGolden + "/lora/adapter_config.json' '" + kGolden + "/lora/adapter_model.safetensors' '" +
                     dir + "/'").c_str());
    }
    void TearDown() override {
        std::system(("rm -rf '" + dir + "'").c_str());
        Golden::TearDown();
    }
    ra::TensorFile weights() { return ra::read_tensor_file(dir + "/adapter_model.safetensors"); }
    void write(const ra::TensorFile &f) { ra::write_tensor_file(dir + "/adapter_model.safetensors", f); }
    std::string dir;
};

TEST_F(Tolerance, DefaultKeysFloatAlphaMinimalConfig) {
    ra::TensorFile f = weights();
    for (ra::FileTensor &t : f.tensors) {
        const auto pos = t.name.rfind(".weight");
        t.name = t.name.substr(0, pos) + ".default.weight";  // peft-rs style keys
    }
    write(f);
    spit(dir + "/adapter_config.json",
         "{\"peft_type\": \"LORA\", \"r\": 8, \"lora_alpha\": 16.0, \"target_modules\": [\"q_proj\", \"k_proj\", "
         "\"v_proj\", \"o_proj\", \"gate_proj\", \"up_proj\", \"down_proj\"], \"future_field\": [1, 2]}");
    ASSERT_RAI_OK(rai_adapter_load_peft(model, dir.c_str(), "lora"));
    EXPECT_EQ(match("lora"), 7);
    char *cfg = nullptr;
    ASSERT_RAI_OK(rai_adapter_config_json(model, "lora", &cfg));
    EXPECT_NE(std::string(cfg).find("\"lora_alpha\": 16.0"), std::string::npos) << cfg;
    EXPECT_NE(std::string(cfg).find("\"future_field\""), std::string::npos);
    rai_free(cfg);
}

TEST_F(Tolerance, MissingPeftTypeFails) {
    std::string c = slurp(dir + "/adapter_config.json");
    c.replace(c.find("\"peft_type\""), 11, "\"peft_kind\"");
    spit(dir + "/adapter_config.json", c);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "x"), RAI_ERROR_FORMAT, "\"peft_type\" is missing");
}

TEST_F(Tolerance, LowercaseKeysFailLoudly) {
    ra::TensorFile f = weights();
    for (ra::FileTensor &t : f.tensors) {
        for (const char *from : {"lora_A", "lora_B"}) {
            const auto pos = t.name.find(from);
            if (pos != std::string::npos) t.name.replace(pos, 6, from[5] == 'A' ? "lora_a" : "lora_b");
        }
    }
    write(f);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "x"), RAI_ERROR_FORMAT, "has no tensor");
    char *info = nullptr;
    ASSERT_RAI_OK(rai_adapter_model_info_json(model, &info));
    EXPECT_NE(std::string(info).find("\"adapters\": []"), std::string::npos);  // nothing half-loaded
    rai_free(info);
}

TEST_F(Tolerance, TargetedModuleWithoutTensorsFails) {
    ra::TensorFile f = weights();
    f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(),
                                   [](const ra::FileTensor &t) { return t.name.find("v_proj") != std::string::npos; }),
                    f.tensors.end());
    write(f);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "x"), RAI_ERROR_FORMAT,
                     "targeted module \"model.layers.0.self_attn.v_proj\" has no tensor");
}

TEST_F(Tolerance, UnexpectedKeyAndShapeMismatchFail) {
    ra::TensorFile f = weights();
    ra::FileTensor extra = f.tensors[0];
    extra.name = "base_model.model.model.layers.0.mlp.nonexistent.lora_A.weight";
    f.tensors.push_back(extra);
    write(f);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "x"), RAI_ERROR_FORMAT, "unexpected tensor");
    f.tensors.pop_back();
    std::string c = slurp(dir + "/adapter_config.json");
    c.replace(c.find("\"r\": 8"), 6, "\"r\": 4");
    spit(dir + "/adapter_config.json", c);
    write(f);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "x"), RAI_ERROR_SHAPE_MISMATCH, "shape");
}

TEST_F(Tolerance, TargetAbsentFromTheBaseFails) {
    std::string c = slurp(dir + "/adapter_config.json");
    c.replace(c.find("\"q_proj\""), 8, "\"qq_proj\"");
    spit(dir + "/adapter_config.json", c);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, dir.c_str(), "x"), RAI_ERROR_INVALID_ARGUMENT,
                     "\"qq_proj\" matches no module");
}

TEST_F(Tolerance, MissingFilesAndVeraWithoutProjection) {
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, "/nonexistent/dir", "x"), RAI_ERROR_IO, "cannot open");
    const std::string vdir = temp_dir("vera");
    std::system(("cp '" + kGolden + "/vera/adapter_config.json' '" + vdir + "/'").c_str());
    ra::TensorFile f = ra::read_tensor_file(kGolden + "/vera/adapter_model.safetensors");
    f.tensors.erase(std::remove_if(f.tensors.begin(), f.tensors.end(),
                                   [](const ra::FileTensor &t) { return t.name.find("vera_A") != std::string::npos; }),
                    f.tensors.end());
    ra::write_tensor_file(vdir + "/adapter_model.safetensors", f);
    EXPECT_RAI_ERROR(rai_adapter_load_peft(model, vdir.c_str(), "v"), RAI_ERROR_UNSUPPORTED, "PRNG");
    std::system(("rm -rf '" + vdir + "'").c_str());
    EXPECT_RAI_ERROR(rai_adapter_save_peft(model, "nope", "/tmp", nullptr), RAI_ERROR_INVALID_ARGUMENT, "does not exist");
}

// ---------------------------------------------------------------- codecs

TEST(Json, WriterKeepsOrderAndNumberKinds) {
    // Parsed by the shared reader (src/io/json.h), written by the adapters' writer.
    const std::string text = "{\"b\": 16, \"a\": 16.0, \"s\": \"x\\n\\u00e9\", \"l\": [true, null, -1.5e-3], \"o\": {}}";
    const jsonu::Value v = jsonu::parse(text, "t");
    EXPECT_TRUE(jsonu::is_integer(*v.find("b")));
    EXPECT_FALSE(jsonu::is_integer(*v.find("a")));
    EXPECT_EQ(jsonu::dump(v), "{\"b\": 16, \"a\": 16.0, \"s\": \"x\\n\xc3\xa9\", \"l\": [true, null, -1.5e-3], \"o\": {}}");
    jsonu::Value o = jsonu::object();
    jsonu::set(o, "alpha", jsonu::number(16));
    jsonu::set(o, "r", jsonu::integer(8));
    jsonu::set(o, "alpha", jsonu::number(0.1));
    EXPECT_EQ(jsonu::dump(o, 2), "{\n  \"alpha\": 0.1,\n  \"r\": 8\n}");
    try {
        jsonu::parse("{\"a\" 1}", "bad");
        ADD_FAILURE() << "accepted bad JSON";
    } catch (const rai::Error &e) {
        EXPECT_EQ(e.status(), RAI_ERROR_FORMAT);
    }
}

TEST(TensorFile, RoundTripThroughTheSharedCodec) {
    ra::TensorFile f;
    f.metadata.emplace_back("format", "pt");
    ra::FileTensor t;
    t.name = "w";
    t.dtype = "F32";
    t.shape = {2, 3};
    t.bytes.assign(24, 7);
    f.tensors.push_back(t);
    t.name = "h";
    t.dtype = "BF16";
    t.shape = {4};
    t.bytes.assign(8, 3);
    f.tensors.push_back(t);
    const std::vector<uint8_t> bytes = ra::serialize_tensor_file(f);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u);
    const ra::TensorFile g = ra::parse_tensor_file(bytes, "mem");
    ASSERT_EQ(g.tensors.size(), 2u);
    EXPECT_EQ(g.find("w")->bytes, f.tensors[0].bytes);
    EXPECT_EQ(g.find("h")->dtype, "BF16");
    EXPECT_EQ(ra::file_dtype_size("BF16"), 2u);
    ASSERT_EQ(g.metadata.size(), 1u);
    std::vector<uint8_t> bad = bytes;
    bad.resize(bad.size() - 4);  // truncated data buffer
    try {
        ra::parse_tensor_file(bad, "bad");
        ADD_FAILURE() << "accepted a truncated file";
    } catch (const rai::Error &e) {
        EXPECT_EQ(e.status(), RAI_ERROR_FORMAT);
    }
    EXPECT_THROW(ra::read_tensor_file("/nonexistent.safetensors"), rai::Error);
}

}  // namespace
