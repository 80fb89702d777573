#include "cook/core/paths.h"

#include <cstdlib>

namespace cook {

std::string data_dir() {
  if (const char* env = std::getenv("COOK_DATA"); env && *env) return env;
#ifdef COOK_DEFAULT_DATA_DIR
  return COOK_DEFAULT_DATA_DIR;
#else
  return ".data";
#endif
}

std::string default_tokenizer_dir() { return data_dir() + "/tokenizer/gpt2"; }

}  // namespace cook
