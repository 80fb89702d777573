// torch.save files (the zip format of PyTorch ≥ 1.6) holding a flat dict name → tensor, as BMCook
// saves its checkpoints (bmtrain.save / torch.save of a state_dict).
#pragma once
#include <string>

#include "cook/weights/tensor_io.h"

namespace cook::weights {

// Reads the dict through LibTorch's unpickler (what torch::pickle_load uses), streaming the zip
// records from the file rather than reading it into memory first: the result is one copy of the
// tensors, on the CPU. A plain dict and an OrderedDict (state_dict) both work. Errors name the
// file, and the entry where one is at fault (a non-string key, a value that is not a tensor);
// a legacy (pre-1.6, non-zip) file is an error saying so.
TensorMap read_torch_bin(const std::string& path);

// Writes `tensors` as a dict with torch::pickle_save, atomically; Python's torch.load reads it.
// The file's bytes are built in memory before they are written (LibTorch's pickler works so).
void write_torch_bin(const std::string& path, const TensorMap& tensors);

}  // namespace cook::weights
