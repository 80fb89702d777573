#include "cook/core/problems.h"
#include "cook/weights/checkpoint.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cook/core/error.h"
#include "cook/core/resources.h"
#include "cook/io/atomic_file.h"
#include "cook/io/mapped_file.h"
#include "cook/io/safetensors.h"
#include "cook/io/torch_object.h"
#include "cook/weights/bmcook_bin.h"

namespace cook::weights {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::string& folder, const std::string& name) { return (fs::path(folder) / name).string(); }

std::string shape_str(c10::IntArrayRef s) { return io::shape_string(s.vec()); }


json read_json_file(const std::string& path) {
  auto file = io::MappedFile::open(path);
  try {
    return json::parse(file->data(), file->data() + file->size());
  } catch (const json::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
}

model::ModelConfig read_hf_config(const std::string& config_path) {
  json j = read_json_file(config_path);
  model::ModelConfig c = model::config_from_hf_json(j, config_path);
  c.validate(config_path);
  return c;
}

// A preset given beside a checkpoint that carries its own config must agree with it.
void check_preset(const std::string& path, const model::ModelConfig& config, const std::optional<std::string>& preset) {
  if (!preset) return;
  model::ModelConfig p;
  try {
    p = model::preset(*preset);
  } catch (const std::exception& e) {
    rethrow_with_context(path, e);
  }
  json a = model::to_json(config), b = model::to_json(p);
  if (a == b) return;
  std::string diff;
  for (auto it = a.begin(); it != a.end(); ++it) {
    auto o = b.find(it.key());
    if (o == b.end() || *o != it.value())
      diff += (diff.empty() ? "" : ", ") + it.key() + " " + it.value().dump() + " vs " + (o == b.end() ? "-" : o->dump());
  }
  throw Error(path, "the checkpoint's config does not match preset '" + *preset + "': " + diff);
}

}  // namespace

// A config that lies about its shape (n_layer 100000 in a 1 MB file) is refused before a model of
// that shape, or even a name map of it, is built. The factor 2 leaves room for a few missing
// weights, which check_weights_match_config then names exactly.
void check_config_fits(const model::ModelConfig& config, const TensorMap& tensors, const std::string& where) {
  uint64_t held = 0;
  size_t smallest = 0;
  for (const auto& [name, t] : tensors) {
    held += t.nbytes();
    const size_t size = t.element_size();
    if (smallest == 0 || size < smallest) smallest = size;
  }
  if (smallest == 0) smallest = 1;
  const long double needed = static_cast<long double>(config.parameter_count()) * smallest;
  if (needed <= 2.0L * held) return;
  throw Error(where, "its model config (n_layer " + std::to_string(config.n_layer) + ", d_model " +
                         std::to_string(config.d_model) + ", d_ff " + std::to_string(config.d_ff) + ", vocab_size " +
                         std::to_string(config.vocab_size) + ") needs " + std::to_string(config.parameter_count()) +
                         " parameters (" + format_bytes(static_cast<double>(needed)) + " at least), but its tensors hold " +
                         format_bytes(static_cast<double>(held)) + ": the config does not describe these weights");
}

namespace {

// Adds the file's tensors (views of its mapping) under their own names.
void add_tensors(Checkpoint& ck, const std::string& path, const io::SafetensorsReader& reader) {
  for (const auto& info : reader.tensors()) {
    ck.tensors.emplace(info.name, tensor_view(reader, info));
    ck.origins[info.name] = {path, info.name};
  }
  ck.mappings.push_back(reader.mapping());
}

Checkpoint read_cook(const std::string& path, io::SafetensorsReader reader, const std::optional<std::string>& preset) {
  Checkpoint ck;
  ck.kind = CheckpointKind::Cook;
  ck.source = path;
  ck.metadata = reader.metadata();
  const std::string& version = ck.metadata.at(kFormatVersionKey);
  if (version != kCookFormatVersion)
    throw Error(path, std::string("__metadata__ ") + kFormatVersionKey + " is '" + version +
                          "', but this build of Cook reads format " + kCookFormatVersion);
  auto cfg = ck.metadata.find(kModelConfigKey);
  // (the weights are checked against the config by read_checkpoint, once all parts are read)
  if (cfg == ck.metadata.end())
    throw Error(path, std::string("__metadata__ has ") + kFormatVersionKey + " but no " + kModelConfigKey);
  const std::string where = path + ": __metadata__ " + kModelConfigKey;
  json j;
  try {
    j = json::parse(cfg->second);
  } catch (const json::exception& e) {
    throw Error(where, std::string("not valid JSON: ") + e.what());
  }
  ck.config = model::config_from_json(j, where);
  ck.config.validate(where);
  check_preset(path, ck.config, preset);
  add_tensors(ck, path, reader);
  return ck;
}

Checkpoint read_hf(const std::string& path, const std::string& folder, const std::vector<io::SafetensorsReader>& shards,
                   const std::map<std::string, const io::TensorInfo*>& infos_in_shards,
                   const std::map<std::string, size_t>& shard_of, Metadata metadata,
                   const std::optional<std::string>& preset) {
  Checkpoint ck;
  ck.kind = CheckpointKind::HuggingFace;
  ck.source = path;
  ck.metadata = std::move(metadata);
  ck.config = read_hf_config(join(folder, "config.json"));
  check_preset(path, ck.config, preset);
  TensorMap hf;
  std::map<std::string, std::string> file_of;
  for (const auto& [name, info] : infos_in_shards) {
    const io::SafetensorsReader& r = shards[shard_of.at(name)];
    hf.emplace(name, tensor_view(r, *info));
    file_of[name] = r.path();
  }
  check_config_fits(ck.config, hf, path);
  NameMap map(ck.config);
  ck.tensors = map.convert(Layout::HuggingFace, Layout::Cook, hf, path, file_of);
  for (const auto& [name, t] : hf) {
    if (const WeightName* w = map.find(Layout::HuggingFace, name)) ck.origins[w->cook] = {file_of[name], name};
  }
  for (const auto& r : shards) ck.mappings.push_back(r.mapping());
  return ck;
}

Checkpoint read_hf_single(const std::string& path, const std::string& folder, io::SafetensorsReader reader,
                          const std::optional<std::string>& preset) {
  std::vector<io::SafetensorsReader> shards;
  shards.push_back(std::move(reader));
  std::map<std::string, const io::TensorInfo*> infos;
  std::map<std::string, size_t> shard_of;
  for (const auto& info : shards[0].tensors()) {
    infos[info.name] = &info;
    shard_of[info.name] = 0;
  }
  Metadata md = shards[0].metadata();
  return read_hf(path, folder, shards, infos, shard_of, md, preset);
}

Checkpoint read_hf_sharded(const std::string& path, const std::string& index_path, const std::optional<std::string>& preset) {
  auto sharded = io::ShardedSafetensors::open(index_path);
  std::map<std::string, const io::TensorInfo*> infos;
  std::map<std::string, size_t> shard_of;
  for (const auto& name : sharded.names()) {
    auto e = sharded.at(name);
    infos[name] = e.info;
    shard_of[name] = static_cast<size_t>(e.shard - sharded.shards().data());
  }
  return read_hf(path, io::parent_folder(index_path), sharded.shards(), infos, shard_of, sharded.metadata(), preset);
}

// A torch.save .bin in BMCook's layout, or in Hugging Face's (a folder's pytorch_model.bin): the
// names tell which.
Checkpoint read_bin(const std::string& path, const model::ModelConfig& config) {
  Checkpoint ck;
  ck.source = path;
  ck.config = config;
  ck.config.validate(path);
  LoadedTensors loaded = load_torch_bin(path);
  const TensorMap& bin = loaded.tensors;
  const Layout layout = bin.count("transformer.wte.weight") ? Layout::HuggingFace : Layout::BMCook;
  ck.kind = layout == Layout::HuggingFace ? CheckpointKind::HuggingFace : CheckpointKind::BMCook;
  NameMap map(ck.config);
  ck.tensors = map.convert(layout, Layout::Cook, bin, path);
  for (const auto& [name, t] : bin)
    if (const WeightName* w = map.find(layout, name)) ck.origins[w->cook] = {path, name};
  ck.mappings.push_back(loaded.mapping);
  return ck;
}

Checkpoint read_bmcook(const std::string& path, const std::optional<std::string>& preset) {
  if (!preset) {
    std::string names;
    for (const auto& n : model::preset_names()) names += (names.empty() ? "" : ", ") + n;
    throw Error(path, "a BMCook .bin holds no model config: name its preset (one of: " + names + ")");
  }
  model::ModelConfig config;
  try {
    config = model::preset(*preset);
  } catch (const std::exception& e) {
    rethrow_with_context(path, e);
  }
  // BMCook built every GPT-J it trained and saved with LayerNorm eps 1e-6 (example/train.py's
  // get_model), whatever the preset's own value: the weights are run as BMCook ran them.
  config.layer_norm_eps = 1e-6;
  return read_bin(path, config);
}

bool floating(torch::ScalarType t) { return c10::isFloatingType(t); }

struct Job {
  torch::Tensor param;
  std::string name;
  const torch::Tensor* source;
};

void load_impl(torch::nn::Module& module, const Checkpoint& ck, TensorMap* release_from) {
  auto params = module.named_parameters(/*recurse=*/true);
  Problems problems;
  std::vector<Job> jobs;
  jobs.reserve(params.size());
  for (const auto& item : params) {
    const std::string& name = item.key();
    const torch::Tensor& param = item.value();
    auto it = ck.tensors.find(name);
    if (it == ck.tensors.end()) {
      problems.add(ck.source + ": tensor '" + name + "' is missing (the module's parameter is " +
                   c10::toString(param.scalar_type()) + " " + shape_str(param.sizes()) + ")");
      continue;
    }
    const torch::Tensor& src = it->second;
    if (!src.defined()) {
      problems.add(ck.describe(name) + ": is undefined");
    } else if (src.sizes() != param.sizes()) {
      problems.add(ck.describe(name) + ": shape " + shape_str(src.sizes()) + " does not match the module's " +
                   shape_str(param.sizes()));
    } else if (src.scalar_type() != param.scalar_type() &&
               !(floating(src.scalar_type()) && floating(param.scalar_type()))) {
      problems.add(ck.describe(name) + ": dtype " + c10::toString(src.scalar_type()) + " cannot be loaded into the " +
                   c10::toString(param.scalar_type()) + " parameter");
    } else {
      jobs.push_back({param, name, &src});
    }
  }
  std::vector<std::string> param_names;
  for (const auto& item : params) param_names.push_back(item.key());
  for (const auto& [name, t] : ck.tensors) {
    if (params.contains(name)) continue;
    std::string line = ck.describe(name) + ": the module has no such parameter";
    auto near = io::nearest_names(name, param_names, 2);
    if (!near.empty()) {
      line += " (nearest: ";
      for (size_t i = 0; i < near.size(); ++i) line += (i ? ", '" : "'") + near[i] + "'";
      line += ")";
    }
    problems.add(line);
  }
  problems.throw_if_any(ck.source, "cannot load the checkpoint into the module");

  // In file order, so a file that is not in the page cache is read front to back.
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return reinterpret_cast<uintptr_t>(a.source->data_ptr()) < reinterpret_cast<uintptr_t>(b.source->data_ptr());
  });
  auto mapping_of = [&](const torch::Tensor& t) -> const io::MappedFile* {
    if (!t.is_contiguous() || t.nbytes() == 0) return nullptr;
    for (const auto& m : ck.mappings)
      if (m && m->contains(t.data_ptr(), t.nbytes())) return m.get();
    return nullptr;
  };
  // A mapped tensor is copied in slices of this many bytes, each slice's pages dropped once it is
  // copied: at no point is more than about one slice resident beyond the module itself.
  constexpr int64_t kSliceBytes = int64_t{32} << 20;
  auto prefetch = [&](const torch::Tensor& t) {
    if (const io::MappedFile* m = mapping_of(t)) m->prefetch(t.data_ptr(), std::min<size_t>(t.nbytes(), kSliceBytes));
  };
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < jobs.size(); ++k) {
    const torch::Tensor& src = *jobs[k].source;
    torch::Tensor& param = jobs[k].param;
    const io::MappedFile* m = mapping_of(src);
    try {
      if (m != nullptr && param.is_contiguous() && static_cast<int64_t>(src.nbytes()) > kSliceBytes) {
        const torch::Tensor s = src.view({-1}), d = param.view({-1});
        const int64_t n = s.numel(), step = std::max<int64_t>(1, kSliceBytes / static_cast<int64_t>(src.element_size()));
        for (int64_t off = 0; off < n; off += step) {
          const int64_t len = std::min(step, n - off);
          const torch::Tensor slice = s.narrow(0, off, len);
          if (off + len < n) prefetch(s.narrow(0, off + len, std::min(step, n - off - len)));
          d.narrow(0, off, len).copy_(slice);
          m->release(slice.data_ptr(), slice.nbytes());
        }
      } else {
        param.copy_(src);
        if (m != nullptr) m->release(src.data_ptr(), src.nbytes());
      }
    } catch (const c10::Error& e) {
      throw Error(ck.describe(jobs[k].name), std::string("copy into the module failed: ") + e.what_without_backtrace());
    }
    // A NaN or Inf weight poisons every output and every gradient: refuse it here, by name.
    if (floating(param.scalar_type()) && !torch::isfinite(param).all().item<bool>()) {
      const int64_t bad = param.numel() - torch::isfinite(param).sum().item<int64_t>();
      throw Error(ck.describe(jobs[k].name), "holds " + std::to_string(bad) + " non-finite value" +
                                                 (bad == 1 ? "" : "s") + " (NaN or Inf): the checkpoint is corrupt");
    }
    if (k + 1 < jobs.size()) prefetch(*jobs[k + 1].source);
    if (release_from != nullptr) release_from->erase(jobs[k].name);  // `src` is gone from here on
  }
}

}  // namespace

const char* kind_name(CheckpointKind k) {
  switch (k) {
    case CheckpointKind::Cook: return "Cook";
    case CheckpointKind::HuggingFace: return "Hugging Face";
    case CheckpointKind::BMCook: return "BMCook";
  }
  return "?";
}

std::string Checkpoint::describe(const std::string& cook_name) const {
  auto it = origins.find(cook_name);
  if (it == origins.end()) return source + ": tensor '" + cook_name + "'";
  std::string s = it->second.file + ": tensor '" + it->second.name + "'";
  if (it->second.name != cook_name) s += " (Cook '" + cook_name + "')";
  return s;
}

Checkpoint read_checkpoint(const std::string& path, const std::optional<std::string>& preset) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) throw Error(path, "no such file or folder");
  if (fs::is_directory(status)) {
    const std::string config = join(path, "config.json");
    if (!fs::exists(config) && fs::exists(join(path, "trainer.json"))) {  // a `cook train` checkpoint folder
      if (has_rank_shards(path, "model")) {
        Checkpoint ck = read_rank_shards(path, "model");
        check_preset(path, ck.config, preset);
        check_weights_match_config(ck);
        return ck;
      }
      return read_checkpoint(join(path, "model.safetensors"), preset);
    }
    if (!fs::exists(config))
      throw Error(path, "a folder without config.json: not a Hugging Face checkpoint folder");
    const std::string index = join(path, "model.safetensors.index.json");
    if (fs::exists(index)) return read_hf_sharded(path, index, preset);
    const std::string single = join(path, "model.safetensors");
    if (fs::exists(single)) return read_hf_single(path, path, io::SafetensorsReader::open(single), preset);
    const std::string bin = join(path, "pytorch_model.bin");
    if (fs::exists(bin)) {
      model::ModelConfig hf_config = read_hf_config(config);
      check_preset(path, hf_config, preset);
      return read_bin(bin, hf_config);
    }
    std::string hint = fs::exists(join(path, "pytorch_model.bin.index.json"))
                           ? " (a sharded pytorch_model.bin is not read: save the model with safe_serialization=True)"
                           : "";
    throw Error(path, "has config.json but no model.safetensors, model.safetensors.index.json or pytorch_model.bin" +
                          hint);
  }
  if (ends_with(path, ".index.json")) return read_hf_sharded(path, path, preset);
  if (io::looks_like_torch_save(path) || ends_with(path, ".bin") || ends_with(path, ".pt") || ends_with(path, ".pth")) {
    // A Hugging Face folder's pytorch_model.bin carries its config beside it; a BMCook .bin needs the preset.
    const std::string config = join(io::parent_folder(path), "config.json");
    if (!preset && fs::exists(config)) return read_bin(path, read_hf_config(config));
    return read_bmcook(path, preset);
  }
  auto reader = io::SafetensorsReader::open(path);
  if (reader.metadata().count(kFormatVersionKey)) {
    Checkpoint ck = read_cook(path, std::move(reader), preset);
    check_weights_match_config(ck);
    return ck;
  }
  const std::string folder = io::parent_folder(path);
  if (fs::exists(join(folder, "config.json"))) return read_hf_single(path, folder, std::move(reader), preset);
  throw Error(path, std::string("neither a Cook checkpoint (no ") + kFormatVersionKey +
                        " in __metadata__) nor part of a Hugging Face folder (no config.json beside it)");
}

void check_weights_match_config(const Checkpoint& ck) {
  check_config_fits(ck.config, ck.tensors, ck.source);
  Problems problems;
  const NameMap map(ck.config);
  for (const WeightName& w : map.entries()) {
    auto it = ck.tensors.find(w.cook);
    if (it == ck.tensors.end())
      problems.add(ck.describe(w.cook) + " is missing (shape " + io::shape_string(w.shape) + ")");
    else if (it->second.sizes().vec() != w.shape)
      problems.add(ck.describe(w.cook) + ": shape " + shape_str(it->second.sizes()) + ", but the config says " +
                   io::shape_string(w.shape));
  }
  problems.throw_if_any(ck.source, "the tensors do not match the model config in the file");
}

Checkpoint read_bmcook_checkpoint(const std::string& path, const model::ModelConfig& config) {
  return read_bin(path, config);
}

void load_into(torch::nn::Module& module, const Checkpoint& checkpoint) { load_impl(module, checkpoint, nullptr); }

void load_into(torch::nn::Module& module, Checkpoint&& checkpoint) {
  Checkpoint ck = std::move(checkpoint);
  load_impl(module, ck, &ck.tensors);
}

TensorMap parameters_of(const torch::nn::Module& module) {
  TensorMap out;
  for (const auto& item : module.named_parameters(true)) out.emplace(item.key(), item.value().detach());
  return out;
}

namespace {

Metadata cook_metadata(const std::string& path, const model::ModelConfig& config, const Metadata& extra) {
  config.validate(path);
  Metadata md = extra;
  for (const char* key : {kFormatVersionKey, kModelConfigKey})
    if (md.count(key)) throw Error(path, std::string("extra metadata may not set ") + key);
  md[kFormatVersionKey] = kCookFormatVersion;
  md[kModelConfigKey] = model::to_json(config).dump();
  return md;
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& module, const model::ModelConfig& config,
                     const Metadata& extra_metadata) {
  std::vector<std::pair<std::string, torch::Tensor>> ordered;
  for (const auto& item : module.named_parameters(true)) ordered.emplace_back(item.key(), item.value().detach());
  save_safetensors(path, ordered, cook_metadata(path, config, extra_metadata));
}

void save_checkpoint(const std::string& path, const TensorMap& tensors, const model::ModelConfig& config,
                     const Metadata& extra_metadata) {
  save_safetensors(path, tensors, cook_metadata(path, config, extra_metadata));
}

void save_checkpoint(const std::string& path, const std::vector<LazyTensor>& tensors, const model::ModelConfig& config,
                     const Metadata& extra_metadata) {
  save_safetensors(path, tensors, cook_metadata(path, config, extra_metadata));
}

std::string rank_shard_name(const std::string& stem, int64_t rank, int64_t world) {
  return stem + ".rank-" + std::to_string(rank) + "-of-" + std::to_string(world) + ".safetensors";
}

bool has_rank_shards(const std::string& folder, const std::string& stem) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stem + ".rank-0-of-", 0) == 0 && ends_with(name, ".safetensors")) return true;
  }
  return false;
}

Checkpoint read_rank_shards(const std::string& folder, const std::string& stem) {
  int64_t world = 0;
  std::error_code ec;
  const std::string first = stem + ".rank-0-of-";
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(first, 0) != 0 || !ends_with(name, ".safetensors")) continue;
    const std::string count = name.substr(first.size(), name.size() - first.size() - std::string(".safetensors").size());
    if (count.empty() || count.find_first_not_of("0123456789") != std::string::npos || world != 0)
      throw Error(join(folder, name), "not one part 0 of a sharded checkpoint (expected one " + first + "W.safetensors)");
    world = std::stoll(count);
  }
  if (world <= 0) throw Error(join(folder, first + "W.safetensors"), "no part 0 of a sharded checkpoint");
  Checkpoint merged;
  merged.source = folder;
  for (int64_t r = 0; r < world; ++r) {
    const std::string path = join(folder, rank_shard_name(stem, r, world));
    if (!fs::exists(path)) throw Error(path, "missing: a sharded checkpoint of " + std::to_string(world) + " parts needs it");
    io::SafetensorsReader reader = io::SafetensorsReader::open(path);
    const bool is_model = reader.metadata().count(kFormatVersionKey) > 0;
    Checkpoint part;
    if (is_model) {
      part = read_cook(path, std::move(reader), std::nullopt);
    } else {
      part.metadata = reader.metadata();
      add_tensors(part, path, reader);
    }
    if (r == 0) {
      merged.kind = part.kind;
      merged.config = part.config;
      merged.metadata = part.metadata;
    } else if (is_model && model::to_json(part.config) != model::to_json(merged.config)) {
      throw Error(path, "its model config differs from part 0's");
    }
    for (auto& [name, t] : part.tensors) {
      if (merged.tensors.count(name))
        throw Error(path, "tensor '" + name + "' is also in " + merged.origins.at(name).file);
      merged.tensors.emplace(name, std::move(t));
      merged.origins[name] = part.origins.at(name);
    }
    merged.mappings.insert(merged.mappings.end(), part.mappings.begin(), part.mappings.end());
  }
  return merged;
}

void write_hf_folder(const std::string& folder, const model::ModelConfig& config, const TensorMap& cook_tensors) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw Error(folder, "cannot create the folder: " + ec.message());
  config.validate(folder);
  NameMap map(config);
  TensorMap hf = map.convert(Layout::Cook, Layout::HuggingFace, cook_tensors, folder);
  std::vector<std::pair<std::string, torch::Tensor>> ordered;  // model order
  for (const auto& e : map.entries()) ordered.emplace_back(e.hf, hf.at(e.hf));
  save_safetensors(join(folder, "model.safetensors"), ordered, {{"format", "pt"}});
  io::write_file_atomic(join(folder, "config.json"), model::to_hf_json(config).dump(2) + "\n");
}

void write_bmcook_bin(const std::string& path, const model::ModelConfig& config, const TensorMap& cook_tensors) {
  config.validate(path);
  NameMap map(config);
  TensorMap bm = map.convert(Layout::Cook, Layout::BMCook, cook_tensors, path);
  if (!config.fc_in_bias) {
    for (int64_t i = 0; i < config.n_layer; ++i) {
      const std::string prefix = "dec_layers." + std::to_string(i) + ".ff.";
      bm.emplace(prefix + "fc_in_bias", torch::zeros({1, config.d_ff, 1}, bm.at(prefix + "fc_in_weight").options()));
    }
  }
  write_torch_bin(path, bm);
}

}  // namespace cook::weights
