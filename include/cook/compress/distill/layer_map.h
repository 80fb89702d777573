// Which student state is compared with which teacher state. Cook's module names for states:
//   "embed"            the token-embedding output
//   "blocks.{i}"       block i's output (before ln_f)
//   "ln_f"             the last hidden state, after the final layer norm
//   "blocks.{i}.attn"  block i's pre-softmax attention scores
// An entry of a module list is "student_name:teacher_name", or one name meaning the same module
// on both sides; BMCook's "[post]" prefix (a module's output) is accepted.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cook::compress::distill {

struct LayerPair {
  int64_t student = 0;
  int64_t teacher = 0;
  bool operator==(const LayerPair& o) const { return student == o.student && teacher == o.teacher; }
};

// Every layer of the shallower model paired with one of the deeper: student layer j ↔ teacher layer
// (j+1)·ratio − 1 with ratio = teacher/student layers (rounded down when it is not whole), and the
// mirror image when the teacher is the shallower one.
std::vector<LayerPair> uniform_layer_map(int64_t student_layers, int64_t teacher_layers);

// Which teacher block a student block is initialized from (--init-with-teacher). Student block j
// stands for the group of teacher blocks [j·n_t/n_s, (j+1)·n_t/n_s); it copies
enum class InitBlock {
  FirstOfGroup,  // the group's first block: j·ratio (BMCook's init_student: the even blocks at half depth)
  LastOfGroup,   // its last block, (j+1)·ratio − 1: the block the uniform layer map compares it with
};
InitBlock parse_init_block(const std::string& name, const std::string& where);  // "first" | "last"
const char* init_block_name(InitBlock pick);

// ratio = n_t/n_s rounded down when the student is shallower; a deeper student takes
// ⌊j·n_t/n_s⌋ (first) or ⌈(j+1)·n_t/n_s⌉ − 1 (last).
int64_t teacher_block_for(int64_t student_block, int64_t student_layers, int64_t teacher_layers, InitBlock pick);

struct HiddenSite {
  enum class Kind { Embedding, Block, Final };
  Kind kind = Kind::Block;
  int64_t layer = 0;  // for Block
  std::string name() const;
  bool operator==(const HiddenSite& o) const { return kind == o.kind && layer == o.layer; }
};

struct HiddenPair {
  HiddenSite student, teacher;
};

// `entries` (mse_hidn_module) resolved against the two depths; empty gives the uniform map over
// blocks. An unknown name is a cook::Error naming `where` and listing the names that exist.
std::vector<HiddenPair> resolve_hidden_modules(const std::vector<std::string>& entries, int64_t student_layers,
                                               int64_t teacher_layers, const std::string& where);
// `entries` (mse_att_module) of "blocks.{i}.attn" names; empty gives the uniform map.
std::vector<LayerPair> resolve_attention_modules(const std::vector<std::string>& entries, int64_t student_layers,
                                                 int64_t teacher_layers, const std::string& where);

}  // namespace cook::compress::distill
