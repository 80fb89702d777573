// Activation checkpointing: recomputing blocks in backward changes memory, never the numbers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <map>
#include <set>
#include <vector>
#include <string>

#include "cook/model/gptj.h"

namespace cook::model {
namespace {

std::map<std::string, torch::Tensor> gradients_of(bool recompute, const ForwardInput& in, torch::Tensor* loss_out) {
  GptJ model(preset("tiny"));
  model->init_weights(0.05, 7);
  model->train();
  model->set_activation_checkpointing(recompute);
  torch::Tensor loss = model->forward(in).logits.logsumexp(-1).mean();
  loss.backward();
  *loss_out = loss.detach();
  std::map<std::string, torch::Tensor> grads;
  for (const auto& item : model->named_parameters()) grads[item.key()] = item.value().grad().clone();
  return grads;
}

TEST(ActivationCheckpointing, GivesTheSameLossAndGradients) {
  torch::manual_seed(3);
  ForwardInput in;
  in.input_ids = torch::randint(0, 1000, {2, 12});
  in.attention_mask = ForwardInput::mask_from_lengths(torch::tensor({12, 9}), 12);
  torch::Tensor plain_loss, recomputed_loss;
  auto plain = gradients_of(false, in, &plain_loss);
  auto recomputed = gradients_of(true, in, &recomputed_loss);
  EXPECT_TRUE(torch::equal(plain_loss, recomputed_loss));
  ASSERT_EQ(plain.size(), recomputed.size());
  for (const auto& [name, grad] : plain) {
    ASSERT_TRUE(recomputed.at(name).defined()) << name;
    EXPECT_TRUE(torch::allclose(grad, recomputed.at(name), 1e-5, 1e-7)) << name;
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << name;
  }
}

TEST(ActivationCheckpointing, KeepsFewerTensorsAliveForBackward) {
  // The autograd graph of a recomputed block holds one node (its input saved) instead of the
  // block's whole graph: count the nodes reachable from the loss.
  auto count_nodes = [](bool recompute) {
    GptJ model(preset("tiny"));
    model->train();
    model->set_activation_checkpointing(recompute);
    ForwardInput in;
    in.input_ids = torch::randint(0, 1000, {1, 8});
    torch::Tensor loss = model->forward(in).logits.sum();
    std::vector<std::shared_ptr<torch::autograd::Node>> stack{loss.grad_fn()};
    std::set<torch::autograd::Node*> seen;
    while (!stack.empty()) {
      auto node = stack.back();
      stack.pop_back();
      if (!node || !seen.insert(node.get()).second) continue;
      for (const auto& edge : node->next_edges()) stack.push_back(edge.function);
    }
    return seen.size();
  };
  const size_t plain = count_nodes(false), recomputed = count_nodes(true);
  EXPECT_LT(recomputed * 3, plain) << "plain graph " << plain << " nodes, recomputed " << recomputed;
}

TEST(ActivationCheckpointing, StepsAsideWhenScoresOrFfnInputsAreAsked) {
  GptJ model(preset("tiny"));
  model->train();
  model->set_activation_checkpointing(true);
  ForwardInput in;
  in.input_ids = torch::randint(0, 1000, {1, 8});
  in.request.attention_scores = true;
  in.request.ffn_inputs = true;
  in.request.hidden_states = true;
  ForwardOutput out = model->forward(in);
  EXPECT_EQ(out.attention_scores.size(), static_cast<size_t>(model->config().n_layer));
  EXPECT_EQ(out.ffn_inputs.size(), static_cast<size_t>(model->config().n_layer));
  EXPECT_TRUE(out.attention_scores[0].requires_grad());
}

}  // namespace
}  // namespace cook::model
