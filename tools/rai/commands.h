// Subcommands of the rai command-line tool. Each returns the process exit code.
#pragma once

int cmd_info(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_adapter(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
