// torch.save files (the zip format of PyTorch ≥ 1.6) holding a flat dict name → tensor, as BMCook
// saves its checkpoints (bmtrain.save / torch.save of a state_dict).
#pragma once
#include <string>

#include "cook/weights/tensor_io.h"

namespace cook::io {
struct TorchTensorInfo;
}

namespace cook::weights {

// Maps the file and reads it with io::TorchSaveReader (see io/torch_save.h for why not
// torch::pickle_load: it cannot read an OrderedDict). Like load_safetensors, the tensors ALIAS
// THE MAPPING (torch.save stores records uncompressed): zero-copy and READ-ONLY; a storage that is
// not aligned to its element size is copied instead. Tensors keep their strides and may share a
// storage, as they did when saved. Errors name the file and the entry at fault.
LoadedTensors load_torch_bin(const std::string& path);
// load_torch_bin(path).tensors.
TensorMap read_torch_bin(const std::string& path);

// A contiguous copy, owning its memory, of one tensor of a torch.save file (io/torch_object.h; a
// numpy array in it too), for the small files read whole: masks, labels, routers.
torch::Tensor copy_torch_tensor(const io::TorchTensorInfo& t);

// Writes `tensors` as a dict with torch::pickle_save, atomically; Python's torch.load reads it.
// The file's bytes are built in memory before they are written (LibTorch's pickler works so).
void write_torch_bin(const std::string& path, const TensorMap& tensors);

}  // namespace cook::weights
