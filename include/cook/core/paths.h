// Where Cook finds its installed data (the folder scripts/setup.sh fills).
#pragma once
#include <string>

namespace cook {

// $COOK_DATA if set, else "<source dir>/.data" when built from a checkout, else "./.data".
std::string data_dir();
// The GPT-2 tokenizer folder (encoder.json + vocab.bpe) inside data_dir().
std::string default_tokenizer_dir();

}  // namespace cook
