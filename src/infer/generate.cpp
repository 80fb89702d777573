#include "cook/infer/generate.h"

#include <algorithm>
#include <string>

#include "cook/core/error.h"

namespace cook::infer {

std::vector<int64_t> generate(model::GptJImpl& model, const std::vector<int64_t>& prompt, const GenerateOptions& o,
                              at::Generator& generator) {
  o.sampling.validate();
  const int64_t context = model.config().n_positions;
  const int64_t prompt_len = static_cast<int64_t>(prompt.size());
  if (prompt.empty()) throw Error("--prompt", "is empty: give at least one token to continue");
  if (prompt_len >= context)
    throw Error("--prompt", std::to_string(prompt_len) + " tokens leave no room in the model's context of " +
                                std::to_string(context));
  if (o.max_new_tokens < 0)
    throw Error("--max-new-tokens", "must be ≥ 0, got " + std::to_string(o.max_new_tokens));
  torch::NoGradGuard no_grad;
  const torch::Device device = model.embed->weight.device();
  const auto ids_opts = torch::TensorOptions().dtype(torch::kInt64);
  const int64_t budget = std::min(o.max_new_tokens, context - prompt_len);

  std::vector<int64_t> tokens = prompt;
  std::vector<int64_t> out;
  model::KvCache cache;
  torch::Tensor next_input = torch::tensor(prompt, ids_opts).view({1, prompt_len}).to(device);
  for (int64_t step = 0; step < budget; ++step) {
    torch::Tensor logits;
    if (o.use_cache) {
      logits = model.forward_cached(next_input, cache).logits;
    } else {
      model::ForwardInput in;
      in.input_ids = torch::tensor(tokens, ids_opts).view({1, static_cast<int64_t>(tokens.size())}).to(device);
      logits = model.forward(in).logits;
    }
    torch::Tensor last = logits.select(1, logits.size(1) - 1);  // (1, vocab)
    if (o.vocab_limit > 0 && o.vocab_limit < last.size(1)) last = last.narrow(1, 0, o.vocab_limit);
    const int64_t next = choose_next(last, o.sampling, generator)[0].item<int64_t>();
    if (next == o.stop_id) break;
    out.push_back(next);
    tokens.push_back(next);
    next_input = torch::full({1, 1}, next, ids_opts).to(device);
  }
  return out;
}

}  // namespace cook::infer
