// rai inspect FILE [--json]: describes a safetensors or GGUF file, told apart by their first
// bytes (GGUF starts with the magic "GGUF"; safetensors with a u64 header length, then '{').
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "commands.h"
#include "inspect.h"

int cmd_inspect(int argc, char **argv) {
    bool json = false;
    const char *path = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            std::fprintf(stderr, "rai inspect: unknown option '%s'\nusage: rai inspect FILE [--json]\n", argv[i]);
            return 2;
        } else if (path == nullptr) {
            path = argv[i];
        } else {
            std::fprintf(stderr, "rai inspect: unexpected argument '%s'\nusage: rai inspect FILE [--json]\n", argv[i]);
            return 2;
        }
    }
    if (path == nullptr) {
        std::fprintf(stderr, "usage: rai inspect FILE [--json]   (a safetensors or GGUF file)\n");
        return 2;
    }
    FILE *f = std::fopen(path, "rb");
    if (f == nullptr) {
        std::fprintf(stderr, "rai inspect: %s: %s\n", path, std::strerror(errno));
        return 1;
    }
    unsigned char head[9] = {0};
    const size_t got = std::fread(head, 1, sizeof head, f);
    std::fclose(f);
    if (got >= 4 && std::memcmp(head, "GGUF", 4) == 0) return inspect_gguf(path, json);
    if (got == 9 && head[8] == '{') return inspect_safetensors(path, json);
    std::fprintf(stderr, "rai inspect: %s is neither a safetensors file nor a GGUF file (first bytes do not match)\n",
                 path);
    return 1;
}
