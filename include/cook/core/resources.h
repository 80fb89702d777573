// Process resources and small filesystem helpers used across Cook.
#pragma once
#include <cstdint>
#include <string>

namespace cook {

int64_t resident_memory_bytes();       // VmRSS of this process
int64_t peak_resident_memory_bytes();  // VmHWM of this process
// Creates the folder and its parents; an error names the path.
void ensure_directory(const std::string& path);

std::string format_fixed(double value, int decimals);
std::string format_scientific(double value, int decimals);
std::string format_bytes(double bytes);  // "1.23 GB"

}  // namespace cook
