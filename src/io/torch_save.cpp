#include "cook/io/torch_save.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "cook/core/error.h"
#include "cook/core/input_file.h"
#include "cook/io/mapped_file.h"
#include "cook/io/torch_object.h"
#include "cook/io/zip.h"

namespace cook::io {

namespace {

// The values the pickle machine handles live in an arena owned by the result (no shared ownership,
// so no cycles to leak and no recursive destruction however the input nests them). A Node is a
// PyValue plus what only reading needs.
struct Node : PyValue {
  std::string module, name;  // Global
  bool built = false;        // Object, Array, Dtype: BUILD has given the state
};

constexpr size_t kMaxValues = size_t{1} << 24;
constexpr size_t kMaxStack = size_t{1} << 20;

struct StorageType {
  const char* name;
  DType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"DoubleStorage", DType::F64}, {"FloatStorage", DType::F32}, {"HalfStorage", DType::F16},
    {"BFloat16Storage", DType::BF16}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
    {"ShortStorage", DType::I16}, {"CharStorage", DType::I8}, {"ByteStorage", DType::U8},
    {"BoolStorage", DType::BOOL}, {"UntypedStorage", DType::U8},
};

class Machine {
 public:
  Machine(const uint8_t* p, size_t n, const std::string& where, const ZipArchive& zip, const std::string& prefix)
      : p_(p), n_(n), where_(where), zip_(zip), prefix_(prefix) {}

  Node* run() {
    while (true) {
      if (pos_ >= n_) fail("data.pkl ends without a STOP opcode");
      const size_t at = pos_;
      const uint8_t op = p_[pos_++];
      switch (op) {
        case 0x80: {  // PROTO
          uint8_t v = u8();
          if (v > 5) fail("pickle protocol " + std::to_string(v) + " is not known");
          break;
        }
        case 0x95: skip(8); break;  // FRAME
        case 'c': {                 // GLOBAL
          Node* g = make(PyKind::Global);
          g->module = line();
          g->name = line();
          g->s = g->module + "." + g->name;
          push(g);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Node* name = pop();
          Node* module = pop();
          if (name->kind != PyKind::Str || module->kind != PyKind::Str) fail("STACK_GLOBAL needs two strings");
          Node* g = make(PyKind::Global);
          g->module = module->s;
          g->name = name->s;
          g->s = g->module + "." + g->name;
          push(g);
          break;
        }
        case 'q': put(u8()); break;                                   // BINPUT
        case 'r': put(u32()); break;                                  // LONG_BINPUT
        case 0x94: put(static_cast<uint32_t>(memo_.size())); break;  // MEMOIZE
        case 'h': get(u8()); break;                                   // BINGET
        case 'j': get(u32()); break;                                  // LONG_BINGET
        case '}': push(make(PyKind::Dict)); break;
        case ']': push(make(PyKind::List)); break;
        case ')': push(make(PyKind::Tuple)); break;
        case '(':
          if (marks_.size() >= kMaxStack) fail("too many MARKs");
          marks_.push_back(stack_.size());
          break;
        case 't': push(sequence(PyKind::Tuple, pop_mark())); break;
        case 'l': push(sequence(PyKind::List, pop_mark())); break;
        case 0x85: push(sequence(PyKind::Tuple, pop_n(1))); break;
        case 0x86: push(sequence(PyKind::Tuple, pop_n(2))); break;
        case 0x87: push(sequence(PyKind::Tuple, pop_n(3))); break;
        case 'd': {  // DICT
          Node* d = make(PyKind::Dict);
          set_items(d, pop_mark());
          push(d);
          break;
        }
        case 'X': push(str(u32())); break;   // BINUNICODE
        case 0x8c: push(str(u8())); break;   // SHORT_BINUNICODE
        case 0x8d: push(str(u64())); break;  // BINUNICODE8
        case 'B': push(bytes(u32())); break;
        case 'C': push(bytes(u8())); break;
        case 0x8e: push(bytes(u64())); break;
        case 'J': push(integer(static_cast<int32_t>(u32()))); break;
        case 'K': push(integer(u8())); break;
        case 'M': push(integer(u16())); break;
        case 0x8a: {  // LONG1
          uint8_t len = u8();
          if (len > 8) fail("an integer of " + std::to_string(len) + " bytes is too large");
          need(len);
          uint64_t v = 0;
          for (int k = len - 1; k >= 0; --k) v = (v << 8) | p_[pos_ + static_cast<size_t>(k)];
          if (len > 0 && len < 8 && (p_[pos_ + len - 1] & 0x80)) v |= ~uint64_t{0} << (8 * len);  // sign
          pos_ += len;
          push(integer(static_cast<int64_t>(v)));
          break;
        }
        case 'G': {  // BINFLOAT, big-endian
          need(8);
          uint64_t bits = 0;
          for (int k = 0; k < 8; ++k) bits = (bits << 8) | p_[pos_ + static_cast<size_t>(k)];
          pos_ += 8;
          Node* v = make(PyKind::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 0x88: push(boolean(true)); break;
        case 0x89: push(boolean(false)); break;
        case 'N': push(make(PyKind::None)); break;
        case 'R': {  // REDUCE
          Node* args = pop();
          Node* callable = pop();
          push(call(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          Node* args = pop();
          Node* cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': {  // BUILD
          Node* state = pop();
          build(top(), state);
          break;
        }
        case 's': {                     // SETITEM
          Node* v = pop();
          Node* k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Node*> kv = pop_mark();
          set_items(top(), kv);
          break;
        }
        case 'a': {  // APPEND
          Node* v = pop();
          append(top(), {v});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Node*> vs = pop_mark();
          append(top(), vs);
          break;
        }
        case 'Q': push(storage(pop())); break;  // BINPERSID
        case '.': {                              // STOP
          Node* result = pop();
          return result;
        }
        default: {
          static const char* hex = "0123456789abcdef";
          std::string h = {hex[op >> 4], hex[op & 15]};
          fail("pickle opcode 0x" + h + " at byte " + std::to_string(at) + " is not one torch.save writes");
        }
      }
    }
  }

  [[noreturn]] void fail(const std::string& what) const { throw Error(where_, "data.pkl: " + what); }

 private:
  // Every value the machine sees is one of its Nodes.
  static Node* node(const PyValue* v) { return const_cast<Node*>(static_cast<const Node*>(v)); }

  Node* make(PyKind k) {
    if (arena_.size() >= kMaxValues) fail("too many objects");
    arena_.push_back(std::make_unique<Node>());
    arena_.back()->kind = k;
    return arena_.back().get();
  }
  void need(uint64_t k) const {
    if (k > n_ - pos_) fail("truncated (an opcode at byte " + std::to_string(pos_) + " runs past the end)");
  }
  void skip(uint64_t k) {
    need(k);
    pos_ += static_cast<size_t>(k);
  }
  uint8_t u8() {
    need(1);
    return p_[pos_++];
  }
  uint16_t u16() {
    need(2);
    uint16_t v = static_cast<uint16_t>(p_[pos_] | p_[pos_ + 1] << 8);
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    need(4);
    uint32_t v = 0;
    for (int k = 3; k >= 0; --k) v = (v << 8) | p_[pos_ + static_cast<size_t>(k)];
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int k = 7; k >= 0; --k) v = (v << 8) | p_[pos_ + static_cast<size_t>(k)];
    pos_ += 8;
    return v;
  }
  std::string line() {
    const void* nl = std::memchr(p_ + pos_, '\n', n_ - pos_);
    if (nl == nullptr) fail("GLOBAL without its newline");
    size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - (p_ + pos_));
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len + 1;
    return s;
  }
  Node* str(uint64_t len) {
    need(len);
    Node* v = make(PyKind::Str);
    v->s.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return v;
  }
  Node* bytes(uint64_t len) {
    Node* v = str(len);
    v->kind = PyKind::Bytes;
    return v;
  }
  Node* integer(int64_t i) {
    Node* v = make(PyKind::Int);
    v->i = i;
    return v;
  }
  Node* boolean(bool b) {
    Node* v = make(PyKind::Bool);
    v->i = b;
    return v;
  }
  void push(Node* v) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(v);
  }
  Node* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  Node* pop() {
    Node* v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<Node*> pop_n(size_t k) {
    if (stack_.size() < k || (!marks_.empty() && stack_.size() - k < marks_.back())) fail("stack underflow");
    std::vector<Node*> out(stack_.end() - static_cast<ptrdiff_t>(k), stack_.end());
    stack_.resize(stack_.size() - k);
    return out;
  }
  std::vector<Node*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Node*> out(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  Node* sequence(PyKind k, std::vector<Node*> items) {
    Node* v = make(k);
    v->items.assign(items.begin(), items.end());
    return v;
  }
  void put(uint32_t idx) {
    if (memo_.size() >= kMaxValues) fail("memo too large");
    if (stack_.empty()) fail("BINPUT on an empty stack");
    memo_[idx] = stack_.back();
  }
  void get(uint32_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo entry " + std::to_string(idx) + " read before it is written");
    push(it->second);
  }
  void set_items(Node* d, const std::vector<Node*>& kv) {
    if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    if (d->kind == PyKind::Object) return;  // the state of an object this reader does not build
    if (d->kind != PyKind::Dict) fail(std::string("SETITEM on a ") + kind_name(d->kind));
    for (size_t k = 0; k < kv.size(); k += 2) d->entries.emplace_back(kv[k], kv[k + 1]);
  }
  void append(Node* l, const std::vector<Node*>& vs) {
    if (l->kind == PyKind::Object) return;
    if (l->kind != PyKind::List) fail(std::string("APPEND on a ") + kind_name(l->kind));
    l->items.insert(l->items.end(), vs.begin(), vs.end());
  }

  // ('storage', torch.<X>Storage, key, location, numel) → the storage's record in the archive.
  Node* storage(Node* pid) {
    if (pid->kind != PyKind::Tuple || pid->items.size() < 5 || node(pid->items[0])->kind != PyKind::Str ||
        node(pid->items[0])->s != "storage")
      fail("a persistent id that is not a storage");
    Node* type = node(pid->items[1]);
    Node* key = node(pid->items[2]);
    Node* numel = node(pid->items[4]);
    if (type->kind != PyKind::Global || type->module != "torch" || key->kind != PyKind::Str || numel->kind != PyKind::Int ||
        numel->i < 0)
      fail("a malformed storage id");
    const StorageType* st = nullptr;
    for (const auto& t : kStorageTypes)
      if (type->name == t.name) st = &t;
    if (st == nullptr) fail("storage type torch." + printable(type->name) + " is not supported");
    const std::string record = prefix_ + "data/" + key->s;
    const ZipArchive::Entry* e = zip_.find(record);
    if (e == nullptr) fail("storage '" + printable(key->s) + "' has no record " + printable(record));
    uint64_t need_bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel->i), dtype_size(st->dtype), &need_bytes) || need_bytes > e->size)
      fail("storage '" + printable(key->s) + "' claims " + std::to_string(numel->i) + " elements of " +
           dtype_name(st->dtype) + ", but its record has " + std::to_string(e->size) + " bytes");
    Node* v = make(PyKind::Storage);
    v->tensor.dtype = st->dtype;
    v->tensor.storage = zip_.data(*e);
    v->tensor.storage_bytes = need_bytes;
    v->tensor.storage_key = key->s;
    v->i = numel->i;
    return v;
  }

  std::vector<int64_t> int_tuple(Node* t, const char* what) {
    if (t->kind != PyKind::Tuple && t->kind != PyKind::List) fail(std::string("tensor ") + what + " is not a tuple");
    std::vector<int64_t> out;
    for (const PyValue* x : t->items) {
      if (x->kind != PyKind::Int || x->i < 0) fail(std::string("tensor ") + what + " holds a value that is not a size");
      out.push_back(x->i);
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)
  Node* rebuild_tensor(Node* args) {
    if (args->kind != PyKind::Tuple || args->items.size() < 4) fail("_rebuild_tensor with the wrong arguments");
    Node* st = node(args->items[0]);
    Node* off = node(args->items[1]);
    if (st->kind != PyKind::Storage) fail("a tensor whose storage is not a storage");
    if (off->kind != PyKind::Int || off->i < 0) fail("a tensor with a bad storage offset");
    Node* t = make(PyKind::Tensor);
    TorchTensorInfo& ti = t->tensor;
    ti = st->tensor;
    ti.storage_offset = off->i;
    ti.shape = int_tuple(node(args->items[2]), "size");
    ti.strides = int_tuple(node(args->items[3]), "stride");
    if (ti.shape.size() != ti.strides.size()) fail("a tensor whose size and stride differ in length");
    check_reach(ti, static_cast<uint64_t>(st->i), "storage '" + printable(ti.storage_key) + "'");
    return t;
  }

  // Every element the view reaches must lie inside its `elements` elements.
  void check_reach(const TorchTensorInfo& ti, uint64_t elements, const std::string& what) {
    uint64_t numel = 1, last = static_cast<uint64_t>(ti.storage_offset);
    bool overflow = false;
    for (size_t k = 0; k < ti.shape.size(); ++k) {
      uint64_t s = static_cast<uint64_t>(ti.shape[k]);
      overflow = overflow || __builtin_mul_overflow(numel, s, &numel);
      if (s > 0) {
        uint64_t reach = 0;
        overflow = overflow || __builtin_mul_overflow(s - 1, static_cast<uint64_t>(ti.strides[k]), &reach) ||
                   __builtin_add_overflow(last, reach, &last);
      }
    }
    if (overflow) fail(what + ": a tensor too large");
    if (numel > 0 && last >= elements)
      fail(what + ": a tensor reaches element " + std::to_string(last) + " of " + std::to_string(elements));
  }

  Node* call(Node* callable, Node* args) {
    if (callable->kind != PyKind::Global) return object("?");
    const std::string& m = callable->module;
    const std::string& n = callable->name;
    auto arg = [&](size_t k) -> Node* {
      if (args->kind != PyKind::Tuple || args->items.size() <= k) fail(m + "." + n + " with too few arguments");
      return node(args->items[k]);
    };
    if (m == "collections" && n == "OrderedDict") {
      if (args->kind != PyKind::Tuple || !args->items.empty()) fail("OrderedDict with arguments");
      return make(PyKind::Dict);
    }
    if (m == "torch._utils" && (n == "_rebuild_tensor_v2" || n == "_rebuild_tensor")) return rebuild_tensor(args);
    if (m == "torch._utils" && (n == "_rebuild_parameter" || n == "_rebuild_parameter_with_state")) {
      Node* data = arg(0);
      if (data->kind != PyKind::Tensor) fail("a parameter whose data is not a tensor");
      return data;
    }
    if (m == "torch._tensor" && n == "_rebuild_from_type_v2") {  // (func, type, args, state)
      if (++depth_ > 16) fail("tensors rebuilt within each other too deeply");
      Node* v = call(arg(0), arg(2));
      --depth_;
      return v;
    }
    if (m == "torch.jit._pickle" && n == "restore_type_tag") return arg(0);
    if (m == "_codecs" && n == "encode") return latin1_bytes(arg(0), arg(1));
    if (m == "copyreg" && n == "_reconstructor") {  // (class, base, state): protocol < 2 objects
      Node* cls = arg(0);
      return object(cls->kind == PyKind::Global ? cls->s : "?");
    }
    const bool numpy_multiarray = m == "numpy.core.multiarray" || m == "numpy._core.multiarray";
    if (numpy_multiarray && n == "_reconstruct") {
      Node* a = make(PyKind::Array);
      a->s = "numpy.ndarray";
      return a;
    }
    if (numpy_multiarray && n == "scalar") return numpy_scalar(arg(0), arg(1));
    if (m == "numpy" && n == "dtype") {
      Node* code = arg(0);
      if (code->kind != PyKind::Str) fail("numpy.dtype without its type code");
      Node* d = make(PyKind::Dtype);
      d->s = code->s;
      return d;
    }
    return object(callable->s);  // no code runs: the object is its class name and its state
  }

  Node* object(const std::string& cls) {
    Node* o = make(PyKind::Object);
    o->s = cls;
    return o;
  }

  // BUILD: an object's state. An OrderedDict's (its _metadata) is dropped.
  void build(Node* target, Node* state) {
    if (target->kind == PyKind::Object && !target->built) {
      target->state = state;
      target->built = true;
    } else if (target->kind == PyKind::Array && !target->built) {
      build_array(target, state);
    } else if (target->kind == PyKind::Dtype && !target->built) {
      // (version, byte order, ...): '<' little, '|' not applicable, '=' native (little here).
      if (state->kind == PyKind::Tuple && state->items.size() >= 2 && node(state->items[1])->kind == PyKind::Str &&
          node(state->items[1])->s == ">")
        fail("numpy dtype '" + printable(target->s) + "' is big-endian");
      target->built = true;
    }
  }

  static std::optional<DType> numpy_dtype(const std::string& code) {
    static const std::pair<const char*, DType> kCodes[] = {
        {"b1", DType::BOOL}, {"i1", DType::I8},  {"u1", DType::U8},  {"i2", DType::I16}, {"i4", DType::I32},
        {"i8", DType::I64},  {"f2", DType::F16}, {"f4", DType::F32}, {"f8", DType::F64}};
    for (const auto& [c, t] : kCodes)
      if (code == c) return t;
    return std::nullopt;
  }

  // ndarray state: (version, shape, dtype, is_fortran, raw bytes).
  void build_array(Node* a, Node* state) {
    if (state->kind != PyKind::Tuple || state->items.size() != 5) fail("a numpy array with a malformed state");
    Node* dtype = node(state->items[2]);
    Node* fortran = node(state->items[3]);
    Node* raw = node(state->items[4]);
    if (dtype->kind != PyKind::Dtype) fail("a numpy array without its dtype");
    const std::optional<DType> t = numpy_dtype(dtype->s);
    if (!t) fail("numpy arrays of dtype '" + printable(dtype->s) + "' are not supported");
    if (raw->kind != PyKind::Bytes) fail("a numpy array of objects (only arrays of numbers are read)");
    TorchTensorInfo& ti = a->tensor;
    ti.dtype = *t;
    ti.shape = int_tuple(node(state->items[1]), "shape");
    ti.strides.assign(ti.shape.size(), 1);
    const bool f_order = fortran->kind == PyKind::Bool && fortran->i != 0;
    int64_t stride = 1;
    for (size_t k = 0; k < ti.shape.size(); ++k) {
      const size_t axis = f_order ? k : ti.shape.size() - 1 - k;
      ti.strides[axis] = stride;
      if (__builtin_mul_overflow(stride, std::max<int64_t>(ti.shape[axis], 1), &stride)) fail("a numpy array too large");
    }
    const uint64_t elements = raw->s.size() / dtype_size(*t);
    if (raw->s.size() % dtype_size(*t) != 0) fail("a numpy array whose bytes are not whole elements");
    ti.storage = reinterpret_cast<const uint8_t*>(raw->s.data());
    ti.storage_bytes = raw->s.size();
    check_reach(ti, elements, "a numpy array");
    if (static_cast<uint64_t>(ti.numel()) != elements)
      fail("a numpy array of " + std::to_string(ti.numel()) + " elements holds " + std::to_string(elements));
    a->built = true;
  }

  // numpy.core.multiarray.scalar(dtype, bytes) → Bool, Int or Float.
  Node* numpy_scalar(Node* dtype, Node* raw) {
    if (dtype->kind != PyKind::Dtype || raw->kind != PyKind::Bytes) fail("a numpy scalar without its dtype and bytes");
    const std::string& c = dtype->s;
    const size_t width = c.size() == 2 && c[1] >= '1' && c[1] <= '8' ? static_cast<size_t>(c[1] - '0') : 0;
    if (width == 0 || raw->s.size() != width) fail("a numpy scalar of dtype '" + printable(c) + "' with " + std::to_string(raw->s.size()) + " bytes");
    uint64_t bits = 0;
    for (size_t k = width; k-- > 0;) bits = (bits << 8) | static_cast<uint8_t>(raw->s[k]);
    if (c[0] == 'b') return boolean(bits != 0);
    if (c[0] == 'u') {
      if (width == 8 && bits > static_cast<uint64_t>(INT64_MAX)) fail("a numpy uint64 scalar beyond int64");
      return integer(static_cast<int64_t>(bits));
    }
    if (c[0] == 'i') {
      if (width < 8 && (bits >> (8 * width - 1)) != 0) bits |= ~uint64_t{0} << (8 * width);  // sign
      return integer(static_cast<int64_t>(bits));
    }
    if (c[0] == 'f' && (width == 2 || width == 4 || width == 8)) {
      Node* v = make(PyKind::Float);
      if (width == 8) {
        std::memcpy(&v->f, &bits, 8);
      } else if (width == 4) {
        float x;
        const uint32_t b32 = static_cast<uint32_t>(bits);
        std::memcpy(&x, &b32, 4);
        v->f = x;
      } else {
        const int e = static_cast<int>((bits >> 10) & 31), mant = static_cast<int>(bits & 1023);
        double x = e == 0 ? std::ldexp(mant, -24) : e == 31 ? (mant ? NAN : INFINITY) : std::ldexp(mant | 1024, e - 25);
        v->f = (bits & 0x8000) ? -x : x;
      }
      return v;
    }
    fail("numpy scalars of dtype '" + printable(c) + "' are not supported");
  }

  // Protocol 2 pickles bytes as _codecs.encode(<the bytes as latin-1 text>, 'latin1').
  Node* latin1_bytes(Node* text, Node* encoding) {
    if (text->kind != PyKind::Str || encoding->kind != PyKind::Str ||
        (encoding->s != "latin1" && encoding->s != "latin-1"))
      fail("_codecs.encode other than of a string to latin1");
    Node* b = make(PyKind::Bytes);
    const std::string& u = text->s;  // UTF-8 of code points < 256
    for (size_t k = 0; k < u.size(); ++k) {
      const auto c = static_cast<uint8_t>(u[k]);
      if (c < 0x80) {
        b->s.push_back(static_cast<char>(c));
      } else if ((c == 0xC2 || c == 0xC3) && k + 1 < u.size() && (static_cast<uint8_t>(u[k + 1]) & 0xC0) == 0x80) {
        b->s.push_back(static_cast<char>(((c & 0x03) << 6) | (static_cast<uint8_t>(u[k + 1]) & 0x3F)));
        ++k;
      } else {
        fail("_codecs.encode of text that is not latin-1");
      }
    }
    return b;
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;

 public:
  // The values made, for the caller to keep once run() has returned.
  std::vector<std::unique_ptr<Node>> take_values() { return std::move(arena_); }

 private:
  const std::string& where_;
  const ZipArchive& zip_;
  const std::string& prefix_;
  std::vector<std::unique_ptr<Node>> arena_;
  std::vector<Node*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Node*> memo_;
  int depth_ = 0;
};

}  // namespace

int64_t TorchTensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;  // checked against overflow when read
  return n;
}

bool TorchTensorInfo::is_contiguous() const {
  int64_t expected = 1;
  for (size_t k = shape.size(); k-- > 0;) {
    if (shape[k] == 0) return true;
    if (shape[k] != 1 && strides[k] != expected) return false;
    expected *= shape[k];
  }
  return true;
}

const char* kind_name(PyKind k) {
  switch (k) {
    case PyKind::None: return "None";
    case PyKind::Bool: return "bool";
    case PyKind::Int: return "int";
    case PyKind::Float: return "float";
    case PyKind::Str: return "str";
    case PyKind::Bytes: return "bytes";
    case PyKind::Tuple: return "tuple";
    case PyKind::List: return "list";
    case PyKind::Dict: return "dict";
    case PyKind::Tensor: return "tensor";
    case PyKind::Array: return "numpy array";
    case PyKind::Object: return "object";
    case PyKind::Global: return "global";
    case PyKind::Storage: return "storage";
    case PyKind::Dtype: return "numpy dtype";
  }
  return "?";
}

const PyValue* PyValue::get(std::string_view key) const {
  if (kind != PyKind::Dict) return nullptr;
  for (const auto& [k, v] : entries)
    if (k->kind == PyKind::Str && k->s == key) return v;
  return nullptr;
}

const PyValue* PyValue::attribute(std::string_view key) const {
  return kind == PyKind::Object && state != nullptr ? state->get(key) : nullptr;
}

struct TorchObjectFile::Arena {
  std::vector<std::unique_ptr<Node>> values;
};

TorchObjectFile::TorchObjectFile(TorchObjectFile&&) noexcept = default;
TorchObjectFile& TorchObjectFile::operator=(TorchObjectFile&&) noexcept = default;
TorchObjectFile::~TorchObjectFile() = default;

TorchObjectFile TorchObjectFile::open(const std::string& path) {
  std::shared_ptr<const MappedFile> mapping = MappedFile::open(path);
  return parse(mapping->data(), mapping->size(), path, mapping);
}

TorchObjectFile TorchObjectFile::parse(const void* bytes, size_t size, const std::string& where,
                                       std::shared_ptr<const void> keepalive) {
  const auto* data = static_cast<const uint8_t*>(bytes);
  if (size >= 2 && data[0] == 0x80)
    throw Error(where, "a legacy (pre-1.6) torch.save file: Cook reads only the zip format "
                       "(load it and torch.save it again with PyTorch >= 1.6)");
  if (size < 4 || std::memcmp(data, "PK\x03\x04", 4) != 0) throw Error(where, "not a torch.save zip file");
  ZipArchive zip = ZipArchive::parse(data, size, where);

  // "<folder>/data.pkl": the folder name is the archive's (torch.save uses "archive" or the file's stem).
  const ZipArchive::Entry* pkl = nullptr;
  std::string prefix;
  for (const auto& e : zip.entries()) {
    auto slash = e.name.find('/');
    if (slash != std::string::npos && e.name.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl != nullptr) throw Error(where, "two data.pkl records: " + printable(pkl->name) + ", " + printable(e.name));
      pkl = &e;
      prefix = e.name.substr(0, slash + 1);
    }
  }
  if (pkl == nullptr) throw Error(where, "a zip file without <archive>/data.pkl: not written by torch.save");
  if (const ZipArchive::Entry* bo = zip.find(prefix + "byteorder")) {
    std::string order(reinterpret_cast<const char*>(zip.data(*bo)), static_cast<size_t>(bo->size));
    if (order != "little") throw Error(where, "byteorder '" + printable(order) + "': only little-endian files are read");
  }

  TorchObjectFile f;
  f.path_ = where;
  f.keepalive_ = std::move(keepalive);
  Machine machine(zip.data(*pkl), static_cast<size_t>(pkl->size), f.path_, zip, prefix);
  f.root_ = machine.run();
  f.arena_ = std::make_unique<Arena>();
  f.arena_->values = machine.take_values();
  return f;
}

bool looks_like_torch_save(const std::string& path) {
  int fd = -1;
  try {
    fd = open_input_file(path);  // a FIFO would block fopen() for ever
  } catch (const Error&) {
    return false;  // not a regular file: the reader that opens it says so
  }
  char head[4] = {};
  const ssize_t got = ::read(fd, head, 4);
  ::close(fd);
  return got == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0;
}

TorchSaveReader TorchSaveReader::open(const std::string& path) {
  TorchSaveReader r;
  r.path_ = path;
  r.mapping_ = MappedFile::open(path);
  r.keepalive_ = r.mapping_;
  r.read(r.mapping_->data(), r.mapping_->size());
  return r;
}

TorchSaveReader TorchSaveReader::parse(const void* data, size_t size, const std::string& where,
                                       std::shared_ptr<const void> keepalive) {
  TorchSaveReader r;
  r.path_ = where;
  r.keepalive_ = std::move(keepalive);
  r.read(static_cast<const uint8_t*>(data), size);
  return r;
}

void TorchSaveReader::read(const uint8_t* data, size_t size) {
  const std::string& where = path_;
  const TorchObjectFile file = TorchObjectFile::parse(data, size, where);
  const PyValue& result = file.root();
  if (result.kind != PyKind::Dict)
    throw Error(where, std::string("holds a ") + kind_name(result.kind) + ", not a dict of tensors");
  std::unordered_set<std::string> seen;
  tensors_.clear();
  for (const auto& [k, v] : result.entries) {
    if (k->kind != PyKind::Str) throw Error(where, std::string("a key is a ") + kind_name(k->kind) + ", not a tensor name");
    const std::string what = "entry '" + printable(k->s) + "'";
    if (v->kind != PyKind::Tensor) throw Error(where, what + " is a " + kind_name(v->kind) + ", not a tensor");
    if (!seen.insert(k->s).second) throw Error(where, what + " appears twice");
    TorchTensorInfo t = v->tensor;
    t.name = k->s;
    tensors_.push_back(std::move(t));
  }
}

}  // namespace cook::io
