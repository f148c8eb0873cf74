// Build information and the system description (rai info, rai_system_info_json).
#pragma once
#include <string>

namespace rai {
const char *build_info();
std::string system_info_json();
}
