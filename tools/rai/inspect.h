// rai inspect: the two file kinds it describes. Each prints text or JSON (--json) on stdout and
// returns the exit code: 0, or 1 when the file or one of its quantized weights is invalid.
#pragma once

int inspect_safetensors(const char *path, bool json);
int inspect_gguf(const char *path, bool json);
