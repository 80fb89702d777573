// The command line every seed writer shares: `<writer> FOLDER` writes its seeds into FOLDER (which
// run_fuzz.sh makes). A wrong command line exits 2; a seed that cannot be written prints why and
// exits 1.
#pragma once
#include <cstdio>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>

#include "file_bundle.h"

namespace cook::fuzz {

// write_seed, throwing with the seed's path when it cannot write it.
inline void write_seed_or_throw(const std::string& path, const Bundle& files) {
  if (!write_seed(path, files)) throw std::runtime_error(path + ": cannot write the seed");
}

inline int seed_writer_main(int argc, char** argv, const std::function<void(const std::string& folder)>& write_seeds) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <folder>\n", argv[0]);
    return 2;
  }
  try {
    write_seeds(argv[1]);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}

}  // namespace cook::fuzz
