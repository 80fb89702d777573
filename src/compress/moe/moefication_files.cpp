#include "cook/compress/moe/moefication_files.h"

#include <filesystem>
#include <optional>

#include "cook/core/error.h"
#include "cook/io/torch_object.h"
#include "cook/weights/bmcook_bin.h"

namespace fs = std::filesystem;

namespace cook::compress::moe {

namespace {

// The label of each neuron, from a list/tuple of integers, a 1-D numpy array or tensor of them.
std::vector<int64_t> read_labels(const std::string& path) {
  const io::TorchObjectFile file = io::TorchObjectFile::open(path);
  const io::PyValue& root = file.root();
  std::vector<int64_t> labels;
  if (root.is_sequence()) {
    for (size_t k = 0; k < root.items.size(); ++k) {
      const io::PyValue& v = *root.items[k];
      if (v.kind != io::PyKind::Int)
        throw Error(path, "label " + std::to_string(k) + " is a " + io::kind_name(v.kind) + ", not an integer");
      labels.push_back(v.i);
    }
  } else if ((root.kind == io::PyKind::Array || root.kind == io::PyKind::Tensor) && root.tensor.shape.size() == 1) {
    torch::Tensor t = weights::copy_torch_tensor(root.tensor);
    if (t.is_floating_point() || t.scalar_type() == torch::kBool) throw Error(path, "the labels are not integers");
    t = t.to(torch::kInt64);
    labels.assign(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel());
  } else {
    throw Error(path, std::string("holds a ") + io::kind_name(root.kind) +
                          ", not MoEfication's labels (a list of one expert index per neuron)");
  }
  return labels;
}

// Labels → (E, F/E) int64: each expert's neurons, ascending.
torch::Tensor experts_of(const std::vector<int64_t>& labels, int64_t d_ff, const std::string& path) {
  if (static_cast<int64_t>(labels.size()) != d_ff)
    throw Error(path, "holds " + std::to_string(labels.size()) + " labels; the model's FFN has " + std::to_string(d_ff) +
                          " neurons");
  int64_t num_expert = 0;
  for (size_t k = 0; k < labels.size(); ++k) {
    if (labels[k] < 0 || labels[k] >= d_ff)
      throw Error(path, "label " + std::to_string(k) + " is " + std::to_string(labels[k]) + ", not an expert index");
    num_expert = std::max(num_expert, labels[k] + 1);
  }
  std::vector<std::vector<int64_t>> members(static_cast<size_t>(num_expert));
  for (size_t k = 0; k < labels.size(); ++k) members[static_cast<size_t>(labels[k])].push_back(static_cast<int64_t>(k));
  const int64_t size = d_ff / num_expert;
  torch::Tensor experts = torch::empty({num_expert, size}, torch::kInt64);
  for (int64_t e = 0; e < num_expert; ++e) {
    const auto& m = members[static_cast<size_t>(e)];
    if (static_cast<int64_t>(m.size()) != size || size * num_expert != d_ff)
      throw Error(path, "expert " + std::to_string(e) + " has " + std::to_string(m.size()) + " neurons; " +
                            std::to_string(num_expert) + " experts of " + std::to_string(d_ff) +
                            " neurons must have equal shares");
    std::copy(m.begin(), m.end(), experts[e].data_ptr<int64_t>());
  }
  return experts;
}

const io::PyValue* parameter(const io::PyValue& module, const char* name) {
  const io::PyValue* params = module.attribute("_parameters");
  return params ? params->get(name) : nullptr;
}

// Sequential(Linear(d, E, bias?), Tanh(), Linear(E, E, bias?)) → w1, b1, w2, b2.
std::map<std::string, torch::Tensor> read_router(const std::string& path, int64_t d_model, int64_t num_expert) {
  const io::TorchObjectFile file = io::TorchObjectFile::open(path);
  const io::PyValue& root = file.root();
  const std::string expected = "torch.nn.Sequential(Linear(" + std::to_string(d_model) + ", " +
                               std::to_string(num_expert) + "), Tanh(), Linear(" + std::to_string(num_expert) + ", " +
                               std::to_string(num_expert) + "))";
  auto wrong = [&](const std::string& what) { return Error(path, what + ": not MoEfication's MLP router " + expected); };
  if (root.kind != io::PyKind::Object || root.s != "torch.nn.modules.container.Sequential")
    throw wrong(std::string("holds a ") + (root.kind == io::PyKind::Object ? root.s : io::kind_name(root.kind)));
  const io::PyValue* modules = root.attribute("_modules");
  if (modules == nullptr || modules->kind != io::PyKind::Dict || modules->entries.size() != 3)
    throw wrong("a Sequential without three modules");
  const char* classes[] = {"torch.nn.modules.linear.Linear", "torch.nn.modules.activation.Tanh",
                           "torch.nn.modules.linear.Linear"};
  std::map<std::string, torch::Tensor> out;
  for (size_t k = 0; k < 3; ++k) {
    const io::PyValue& m = *modules->entries[k].second;
    if (m.kind != io::PyKind::Object || m.s != classes[k]) throw wrong("module " + std::to_string(k) + " is " + m.s);
    if (k == 1) continue;
    const std::string n = k == 0 ? "1" : "2";
    const int64_t in = k == 0 ? d_model : num_expert;
    const io::PyValue* w = parameter(m, "weight");
    if (w == nullptr || w->kind != io::PyKind::Tensor) throw wrong("module " + std::to_string(k) + " has no weight");
    torch::Tensor weight = weights::copy_torch_tensor(w->tensor).to(torch::kFloat32);
    if (weight.sizes() != torch::IntArrayRef{num_expert, in})
      throw wrong("module " + std::to_string(k) + "'s weight is " + c10::str(weight.sizes()));
    torch::Tensor bias = torch::zeros({num_expert});
    const io::PyValue* b = parameter(m, "bias");
    if (b != nullptr && b->kind == io::PyKind::Tensor) {
      bias = weights::copy_torch_tensor(b->tensor).to(torch::kFloat32);
      if (bias.sizes() != torch::IntArrayRef{num_expert})
        throw wrong("module " + std::to_string(k) + "'s bias is " + c10::str(bias.sizes()));
    }
    out["w" + n] = weight;
    out["b" + n] = bias;
  }
  return out;
}

std::optional<fs::path> first_existing(const std::vector<fs::path>& candidates) {
  for (const auto& p : candidates)
    if (fs::is_regular_file(p)) return p;
  return std::nullopt;
}

}  // namespace

bool is_moefication_folder(const std::string& path) { return fs::is_directory(path); }

MoeFile read_moefication_folder(const std::string& dir, const model::GptJImpl& model) {
  const model::ModelConfig& c = model.config();
  MoeFile f;
  f.d_model = c.d_model;
  f.d_ff = c.d_ff;
  const auto blocks = model.blocks();
  std::vector<std::string> looked;
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string name = "dec_layers." + std::to_string(i) + ".ff.fc_in_weight";
    const fs::path d(dir);
    const std::vector<fs::path> label_files = {d / "gp_split" / name, d / "param_split" / name, d / name};
    if (i == 0)
      for (const auto& p : label_files) looked.push_back(p.string());
    const std::optional<fs::path> labels_path = first_existing(label_files);
    if (!labels_path) continue;
    const std::string lp = labels_path->string();
    MoeLayer layer;
    layer.experts = experts_of(read_labels(lp), c.d_ff, lp);
    const int64_t num_expert = layer.experts.size(0);
    if (f.num_expert != 0 && f.num_expert != num_expert)
      throw Error(lp, "splits the FFN into " + std::to_string(num_expert) + " experts; the layers before it into " +
                          std::to_string(f.num_expert));
    f.num_expert = num_expert;

    auto dense = blocks[static_cast<size_t>(i)]->dense_ffn();
    if (!dense) throw Error(lp, "layer " + std::to_string(i) + ": the model's FFN is not dense (MoEfied twice?)");
    torch::NoGradGuard no_grad;
    const torch::Tensor rows = torch::nn::functional::normalize(
        dense->fc_in->weight.detach().to(torch::kCPU, torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(1));
    layer.centroids = torch::stack(
        [&] {
          std::vector<torch::Tensor> means;
          for (int64_t e = 0; e < num_expert; ++e) means.push_back(rows.index_select(0, layer.experts[e]).mean(0));
          return means;
        }());

    for (const std::string& router : {lp + ".model", lp + ".model_input_compl"}) {
      if (!fs::is_regular_file(router)) continue;
      // BMCook's flow may leave a copy of the labels under the .model name (mlp_select reads them there).
      if (io::TorchObjectFile::open(router).root().is_sequence()) continue;
      layer.mlp_router = read_router(router, c.d_model, num_expert);
      break;
    }
    f.layers[i] = std::move(layer);
  }
  if (f.layers.empty()) {
    std::string list;
    for (const auto& p : looked) list += (list.empty() ? "" : ", ") + p;
    throw Error(dir, "holds no MoEfication labels (looked for layer 0 at " + list + ")");
  }
  f.report = {{"source", "moefication"}, {"folder", dir}};
  return f;
}

MoeFile load_moe_source(const std::string& path, const model::GptJImpl& model) {
  return is_moefication_folder(path) ? read_moefication_folder(path, model) : load_moe_file(path);
}

}  // namespace cook::compress::moe
