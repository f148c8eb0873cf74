// Version, status strings, the thread-local error message, logging.
#include <atomic>
#include <cstring>
#include <set>
#include <thread>

#include "log.h"
#include "test_helpers.h"

TEST(Version, RuntimeMatchesHeader) {
    EXPECT_EQ(rai_version_number(), static_cast<uint32_t>(RAI_VERSION_NUMBER));
    EXPECT_EQ(RAI_VERSION_NUMBER, RAI_VERSION_MAJOR * 10000 + RAI_VERSION_MINOR * 100 + RAI_VERSION_PATCH);
    EXPECT_STREQ(rai_version_string(), RAI_VERSION_STRING);
    EXPECT_NE(std::string(rai_build_info()).find(RAI_VERSION_STRING), std::string::npos);
    EXPECT_NE(std::string(rai_build_info()).find("CUDA plugin"), std::string::npos);
}

TEST(Status, EveryCodeHasItsOwnString) {
    std::set<std::string> seen;
    for (int s = RAI_OK; s <= RAI_ERROR_OUT_OF_RANGE; ++s) {
        const char *text = rai_status_string(static_cast<rai_status>(s));
        ASSERT_NE(text, nullptr);
        EXPECT_NE(std::string(text), "unknown status") << s;
        EXPECT_TRUE(seen.insert(text).second) << "duplicate string for " << s;
    }
    EXPECT_STREQ(rai_status_string(static_cast<rai_status>(999)), "unknown status");
    EXPECT_STREQ(rai_status_string(RAI_OK), "ok");
}

TEST(Status, ValuesAreFrozen) {
    // Append-only ABI: these numbers must never change.
    EXPECT_EQ(RAI_ERROR_INVALID_ARGUMENT, 1);
    EXPECT_EQ(RAI_ERROR_OUT_OF_MEMORY, 2);
    EXPECT_EQ(RAI_ERROR_NO_DEVICE, 3);
    EXPECT_EQ(RAI_ERROR_BUFFER_TOO_SMALL, 6);
    EXPECT_EQ(RAI_ERROR_SHAPE_MISMATCH, 9);
    EXPECT_EQ(RAI_ERROR_DTYPE_MISMATCH, 10);
    EXPECT_EQ(RAI_ERROR_DEVICE_MISMATCH, 11);
    EXPECT_EQ(RAI_ERROR_OUT_OF_RANGE, 16);
}

TEST(LastError, IsThreadLocalAndClearedBySuccess) {
    int32_t n = 0;
    EXPECT_RAI_ERROR(rai_cuda_device_count(nullptr), RAI_ERROR_INVALID_ARGUMENT, "count");
    std::string other;
    std::thread t([&] { other = rai_last_error_message(); });
    t.join();
    EXPECT_EQ(other, "");  // another thread does not see this thread's error
    EXPECT_NE(std::string(rai_last_error_message()), "");
    ASSERT_RAI_OK(rai_cuda_device_count(&n));
    EXPECT_STREQ(rai_last_error_message(), "");
}

namespace {
struct Captured {
    std::atomic<int> count{0};
    int32_t last_level = -1;
    std::string last;
};
void capture(int32_t level, const char *message, void *user) {
    auto *c = static_cast<Captured *>(user);
    c->last_level = level;
    c->last = message;
    c->count++;
}
}  // namespace

TEST(Logging, LevelValidationAndRoundTrip) {
    const int32_t old = rai_get_log_level();
    EXPECT_EQ(old, RAI_LOG_WARN);
    ASSERT_RAI_OK(rai_set_log_level(RAI_LOG_DEBUG));
    EXPECT_EQ(rai_get_log_level(), RAI_LOG_DEBUG);
    EXPECT_RAI_ERROR(rai_set_log_level(7), RAI_ERROR_INVALID_ARGUMENT, "level");
    EXPECT_RAI_ERROR(rai_set_log_level(-1), RAI_ERROR_INVALID_ARGUMENT, "level");
    EXPECT_EQ(rai_get_log_level(), RAI_LOG_DEBUG);
    ASSERT_RAI_OK(rai_set_log_level(old));
}

TEST(Logging, CallbackReceivesCudaFallbackWarningOnce) {
    if (cuda_devices() > 0) GTEST_SKIP() << "a GPU is present: no CPU fallback to observe";
    Captured c;
    rai_set_log_callback(capture, &c);
    ASSERT_RAI_OK(rai_set_log_level(RAI_LOG_WARN));
    for (int i = 0; i < 3; ++i) {
        rai_context_params p;
        rai_context_params_init(&p);
        p.flags = RAI_CONTEXT_IGNORE_ENV;  // AUTO: CUDA first, else CPU
        rai_context *ctx = nullptr;
        ASSERT_RAI_OK(rai_context_create(&p, &ctx));
        rai_device dev;
        ASSERT_RAI_OK(rai_context_device(ctx, &dev));
        EXPECT_EQ(dev.device_type, RAI_DEVICE_CPU);
        rai_context_destroy(ctx);
    }
    rai_set_log_callback(nullptr, nullptr);
    // The test binary may already have warned in another test; at most once either way.
    EXPECT_LE(c.count.load(), 1);
    if (c.count.load() == 1) {
        EXPECT_EQ(c.last_level, RAI_LOG_WARN);
        EXPECT_NE(c.last.find("running on the CPU"), std::string::npos) << c.last;
    }
}

TEST(Logging, DebugRecordsAreFilteredByLevel) {
    Captured c;
    rai_set_log_callback(capture, &c);
    ASSERT_RAI_OK(rai_set_log_level(RAI_LOG_OFF));
    rai_context *ctx = make_cpu_context();
    rai_context_destroy(ctx);
    EXPECT_EQ(c.count.load(), 0);
    rai_set_log_callback(nullptr, nullptr);
    ASSERT_RAI_OK(rai_set_log_level(RAI_LOG_WARN));
}

TEST(Logging, CallbackCanBeSwappedWhileOtherThreadsLog) {
    Captured a;
    ASSERT_RAI_OK(rai_set_log_level(RAI_LOG_DEBUG));
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w)
        writers.emplace_back([&] {
            while (!stop) rai::log::debug("concurrent record");
        });
    for (int i = 0; i < 5000; ++i) rai_set_log_callback(i % 2 ? capture : nullptr, &a);
    rai_set_log_callback(capture, &a);
    const int before = a.count.load();
    while (a.count.load() == before) std::this_thread::yield();
    stop = true;
    for (auto &t : writers) t.join();
    rai_set_log_callback(nullptr, nullptr);
    ASSERT_RAI_OK(rai_set_log_level(RAI_LOG_WARN));
    EXPECT_EQ(a.last, "concurrent record");
    EXPECT_EQ(a.last_level, RAI_LOG_DEBUG);
}

TEST(SystemInfo, JsonIsAllocatedAndDescribesTheMachine) {
    char *json = nullptr;
    ASSERT_RAI_OK(rai_system_info_json(&json));
    ASSERT_NE(json, nullptr);
    const std::string s = json;
    rai_free(json);
    EXPECT_NE(s.find("\"version\": \"" RAI_VERSION_STRING "\""), std::string::npos) << s;
    EXPECT_NE(s.find("\"dispatch_level\""), std::string::npos);
    EXPECT_NE(s.find("\"cuda_plugin\""), std::string::npos);
    EXPECT_RAI_ERROR(rai_system_info_json(nullptr), RAI_ERROR_INVALID_ARGUMENT, "out_json");
    rai_free(nullptr);
}
