// rai: command-line tool over the public C API.
#include <cstdio>
#include <cstring>

#include "commands.h"
#include "rai.h"

namespace {

struct Command {
    const char *name;
    const char *summary;
    int (*run)(int, char **);
};

const Command kCommands[] = {
    {"info", "version, build, CPU features, CUDA devices and plugin state (--json for JSON)", cmd_info},
    {"merge", "BASE.safetensors ADAPTER_DIR OUT.safetensors [--dtype bf16]: merge a PEFT adapter", cmd_merge},
    {"adapter", "inspect DIR [--json]: validate and describe a PEFT adapter directory", cmd_adapter},
    {"quantize", "IN.safetensors OUT --format nf4|fp4|nf4-dq|tq2_0|tq1_0|i2_s|bitnet: quantize a checkpoint",
     cmd_quantize},
    {"inspect", "FILE [--json]: tensors, dtypes, shapes, quant states and metadata of a safetensors or GGUF file",
     cmd_inspect},
};

void usage(FILE *out) {
    std::fprintf(out, "usage: rai <command> [options]\n\ncommands:\n");
    for (const Command &c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
    std::fprintf(out, "\nrai %s\n", rai_version_string());
}

}  // namespace

int main(int argc, char **argv) {
    if (argc < 2 || std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (std::strcmp(argv[1], "--version") == 0) {
        std::printf("rai %s\n", rai_version_string());
        return 0;
    }
    for (const Command &c : kCommands)
        if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 1, argv + 1);
    std::fprintf(stderr, "rai: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
