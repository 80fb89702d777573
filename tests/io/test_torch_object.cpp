// The whole-object reading of torch.save files, on files torch itself wrote (tests/data/bmcook).
#include <gtest/gtest.h>

#include "../common/bmcook_files.h"
#include "../common/expect_error.h"
#include "cook/io/torch_object.h"

using namespace cook::io;
using cook::test::bmcook_file;

TEST(TorchObject, BMCookMaskFileIsADictOfListsOfPairs) {
  const TorchObjectFile f = TorchObjectFile::open(bmcook_file("gpt-j-mask.bin"));
  const PyValue& root = f.root();
  ASSERT_EQ(root.kind, PyKind::Dict);
  ASSERT_EQ(root.entries.size(), 2u);
  EXPECT_EQ(root.entries[0].first->s, "0");
  const PyValue* layer = root.get("1");
  ASSERT_NE(layer, nullptr);
  ASSERT_EQ(layer->kind, PyKind::List);
  ASSERT_EQ(layer->items.size(), 10u);  // every parameter of the block
  const PyValue& q = *layer->items[2];
  ASSERT_EQ(q.kind, PyKind::Tuple);
  EXPECT_EQ(q.items[0]->s, "self_attention.q_proj");
  ASSERT_EQ(q.items[1]->kind, PyKind::Tensor);
  EXPECT_EQ(q.items[1]->tensor.dtype, DType::F16);
  EXPECT_EQ(q.items[1]->tensor.shape, (std::vector<int64_t>{8, 8}));
}

TEST(TorchObject, NumpyIntegerScalarsAndPlainIntsReadAlike) {
  // make_bmcook_files.py: np.random.RandomState(0).permutation(np.arange(16) % 4), as numpy int64s
  const std::vector<int64_t> expected = {1, 2, 0, 1, 1, 0, 2, 2, 2, 3, 3, 3, 3, 0, 1, 0};
  const TorchObjectFile numpy_labels = TorchObjectFile::open(bmcook_file("moe/gp_split/dec_layers.0.ff.fc_in_weight"));
  ASSERT_EQ(numpy_labels.root().kind, PyKind::List);
  std::vector<int64_t> got;
  for (const PyValue* v : numpy_labels.root().items) {
    ASSERT_EQ(v->kind, PyKind::Int);
    got.push_back(v->i);
  }
  EXPECT_EQ(got, expected);
  const TorchObjectFile ints = TorchObjectFile::open(bmcook_file("moe/gp_split/dec_layers.1.ff.fc_in_weight"));
  ASSERT_EQ(ints.root().items.size(), 16u);
  for (const PyValue* v : ints.root().items) EXPECT_EQ(v->kind, PyKind::Int);
}

TEST(TorchObject, PickledModuleKeepsItsClassAndState) {
  const TorchObjectFile f = TorchObjectFile::open(bmcook_file("moe/gp_split/dec_layers.0.ff.fc_in_weight.model"));
  const PyValue& seq = f.root();
  ASSERT_EQ(seq.kind, PyKind::Object);
  EXPECT_EQ(seq.s, "torch.nn.modules.container.Sequential");
  const PyValue* modules = seq.attribute("_modules");
  ASSERT_NE(modules, nullptr);
  ASSERT_EQ(modules->entries.size(), 3u);
  const PyValue& linear = *modules->entries[0].second;
  EXPECT_EQ(linear.s, "torch.nn.modules.linear.Linear");
  const PyValue* weight = linear.attribute("_parameters")->get("weight");
  ASSERT_NE(weight, nullptr);
  ASSERT_EQ(weight->kind, PyKind::Tensor);
  EXPECT_EQ(weight->tensor.shape, (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(linear.attribute("_parameters")->get("bias")->kind, PyKind::None);
  EXPECT_EQ(modules->entries[1].second->s, "torch.nn.modules.activation.Tanh");
}

TEST(TorchObject, NotATorchSaveFileIsAnErrorNamingIt) {
  const std::string idx = bmcook_file("megatron/tokens.idx");
  EXPECT_FALSE(looks_like_torch_save(idx));
  cook::test::expect_error([&] { TorchObjectFile::open(idx); }, {idx, "not a torch.save zip file"});
}
