// Process resources and small filesystem helpers used across Cook.
#pragma once
#include <cstdint>
#include <string>

namespace cook {

int64_t resident_memory_bytes();       // VmRSS of this process
int64_t peak_resident_memory_bytes();  // VmHWM of this process
// Resets VmHWM to the current VmRSS (writes "5" to /proc/self/clear_refs, Linux ≥ 4.0), so that
// peak_resident_memory_bytes() then reports the peak since this call. False when the kernel
// refused (the peak then stays the process lifetime's).
bool reset_peak_resident_memory();
// Creates the folder and its parents; an error names the path.
void ensure_directory(const std::string& path);

std::string format_fixed(double value, int decimals);
std::string format_scientific(double value, int decimals);
std::string format_bytes(double bytes);  // "1.23 GB"

}  // namespace cook
