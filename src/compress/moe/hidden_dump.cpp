#include "cook/compress/moe/hidden_dump.h"

#include <filesystem>

#include "cook/core/error.h"
#include "cook/core/input_file.h"
#include "cook/core/progress.h"
#include "cook/io/atomic_file.h"
#include "cook/weights/tensor_io.h"

namespace cook::compress::moe {

namespace {
const char* kFormat = "cook.moe.hidden/1";
std::string layer_file(int64_t i) { return "layer-" + std::to_string(i) + ".safetensors"; }
}  // namespace

int64_t dump_ffn_inputs(model::GptJ& model, const train::EvalSource& source, const std::string& folder,
                        const HiddenDumpOptions& o, const nlohmann::json& source_info) {
  if (o.tokens <= 0) throw Error("tokens", "must be positive, got " + std::to_string(o.tokens));
  if (o.write) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) throw Error(folder, "cannot create the folder: " + ec.message());
  }
  const model::ModelConfig& c = model->config();
  std::vector<torch::Tensor> out;
  if (o.write)
    for (int64_t i = 0; i < c.n_layer; ++i) out.push_back(torch::empty({o.tokens, c.d_model}, torch::kFloat32));

  const bool was_training = model->is_training();
  model->eval();
  torch::NoGradGuard no_grad;
  Progress::Options po;
  po.label = "moe dump";
  po.total = o.tokens;
  po.item_name = "tokens";
  po.mode = o.progress && o.write ? Progress::Mode::automatic : Progress::Mode::off;
  Progress bar(po);
  const torch::Device device = model->embed->weight.device();
  int64_t done = 0;
  source.for_each(0, [&](const train::Batch& batch) {
    if (done >= o.tokens) return;
    model::ForwardInput in;
    in.input_ids = batch.input_ids.to(device);
    if (batch.attention_mask.defined()) in.attention_mask = batch.attention_mask.to(device);
    in.request.logits = false;
    in.request.ffn_inputs = true;
    model::ForwardOutput r = model->forward(in);
    // Only real tokens: positions whose label is a target (padding has none).
    const torch::Tensor keep = batch.labels.reshape({-1}).ne(train::kIgnoreLabel).nonzero().reshape({-1});
    const int64_t take = std::min<int64_t>(keep.size(0), o.tokens - done);
    if (!o.write) {
      done += take;
      return;
    }
    const torch::Tensor idx = keep.narrow(0, 0, take).to(device);
    for (int64_t i = 0; i < c.n_layer; ++i) {
      const torch::Tensor h = r.ffn_inputs[i].reshape({-1, c.d_model}).index_select(0, idx);
      out[i].narrow(0, done, take).copy_(h.to(torch::kCPU, torch::kFloat32));
    }
    done += take;
    bar.set(done);
  });
  bar.finish();
  if (was_training) model->train();
  if (done == 0) throw Error(folder, "the data gave no tokens to record");
  if (!o.write) return done;

  nlohmann::json files = nlohmann::json::array();
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::vector<std::pair<std::string, torch::Tensor>> tensors{{"ffn_input", out[i].narrow(0, 0, done)}};
    weights::save_safetensors(folder + "/" + layer_file(i), tensors, {{"cook.moe.layer", std::to_string(i)}});
    files.push_back(layer_file(i));
  }
  nlohmann::json manifest{{"format", kFormat}, {"tokens", done}, {"d_model", c.d_model}, {"n_layer", c.n_layer},
                          {"files", files}, {"source", source_info}};
  io::write_file_atomic(folder + "/manifest.json", manifest.dump(2) + "\n");
  return done;
}

HiddenDump open_hidden_dump(const std::string& folder) {
  const std::string path = folder + "/manifest.json";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(path, "cannot open the hidden dump's manifest (write one with 'cook moe dump')");
  const std::string text = read_input_file(path);
  HiddenDump d;
  d.folder = folder;
  try {
    d.manifest = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(path, std::string("not JSON: ") + e.what());
  }
  const auto& m = d.manifest;
  if (!m.is_object() || m.value("format", std::string()) != kFormat)
    throw Error(path, std::string("format: expected \"") + kFormat + "\"");
  for (const char* key : {"tokens", "d_model", "n_layer"})
    if (!m.contains(key) || !m[key].is_number_integer() || m[key].get<int64_t>() <= 0)
      throw Error(path, std::string(key) + ": expected a positive integer");
  d.tokens = m["tokens"].get<int64_t>();
  d.d_model = m["d_model"].get<int64_t>();
  d.n_layer = m["n_layer"].get<int64_t>();
  return d;
}

torch::Tensor HiddenDump::layer(int64_t i) const {
  if (i < 0 || i >= n_layer) throw Error(folder, "layer " + std::to_string(i) + " is not in the dump of " + std::to_string(n_layer));
  const std::string path = folder + "/" + layer_file(i);
  if (!std::filesystem::is_regular_file(path)) throw Error(path, "missing from the hidden dump");
  weights::LoadedTensors t = weights::load_safetensors(path);
  auto it = t.tensors.find("ffn_input");
  if (it == t.tensors.end()) throw Error(path, "tensor 'ffn_input' is missing");
  if (it->second.dim() != 2 || it->second.size(0) != tokens || it->second.size(1) != d_model)
    throw Error(path, "tensor 'ffn_input' must be (" + std::to_string(tokens) + ", " + std::to_string(d_model) + ")");
  return it->second.to(torch::kFloat32).clone();
}

}  // namespace cook::compress::moe
