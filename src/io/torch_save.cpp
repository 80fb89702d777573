#include "cook/io/torch_save.h"

#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "cook/core/error.h"
#include "cook/io/mapped_file.h"
#include "cook/io/zip.h"

namespace cook::io {

namespace {

// ---------------------------------------------------------------------------------------------
// The values the pickle machine handles. They live in an arena owned by the machine (no shared
// ownership, so no cycles to leak and no recursive destruction however the input nests them).

enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Opaque };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::Str: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    case Kind::Opaque: return "object";
  }
  return "?";
}

struct Value {
  Kind kind = Kind::None;
  int64_t i = 0;      // Int, Bool; Storage: numel
  double f = 0;       // Float
  std::string s, s2;  // Str, Bytes; Global: module, name; Storage: key
  std::vector<Value*> items;                       // Tuple, List
  std::vector<std::pair<Value*, Value*>> entries;  // Dict
  // Storage and Tensor.
  DType dtype = DType::U8;
  const uint8_t* data = nullptr;
  uint64_t bytes = 0;
  // Tensor.
  std::vector<int64_t> shape, strides;
  int64_t offset = 0;
  std::string key;
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

  Value* run() {
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
          Value* g = make(Kind::Global);
          g->s = line();
          g->s2 = line();
          push(g);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Value* name = pop();
          Value* module = pop();
          if (name->kind != Kind::Str || module->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
          Value* g = make(Kind::Global);
          g->s = module->s;
          g->s2 = name->s;
          push(g);
          break;
        }
        case 'q': put(u8()); break;                                   // BINPUT
        case 'r': put(u32()); break;                                  // LONG_BINPUT
        case 0x94: put(static_cast<uint32_t>(memo_.size())); break;  // MEMOIZE
        case 'h': get(u8()); break;                                   // BINGET
        case 'j': get(u32()); break;                                  // LONG_BINGET
        case '}': push(make(Kind::Dict)); break;
        case ']': push(make(Kind::List)); break;
        case ')': push(make(Kind::Tuple)); break;
        case '(':
          if (marks_.size() >= kMaxStack) fail("too many MARKs");
          marks_.push_back(stack_.size());
          break;
        case 't': push(sequence(Kind::Tuple, pop_mark())); break;
        case 'l': push(sequence(Kind::List, pop_mark())); break;
        case 0x85: push(sequence(Kind::Tuple, pop_n(1))); break;
        case 0x86: push(sequence(Kind::Tuple, pop_n(2))); break;
        case 0x87: push(sequence(Kind::Tuple, pop_n(3))); break;
        case 'd': {  // DICT
          Value* d = make(Kind::Dict);
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
          Value* v = make(Kind::Float);
          std::memcpy(&v->f, &bits, 8);
          push(v);
          break;
        }
        case 0x88: push(boolean(true)); break;
        case 0x89: push(boolean(false)); break;
        case 'N': push(make(Kind::None)); break;
        case 'R': {  // REDUCE
          Value* args = pop();
          Value* callable = pop();
          push(call(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          Value* args = pop();
          Value* cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': pop(); top(); break;  // BUILD: the state of an object (an OrderedDict's _metadata)
        case 's': {                     // SETITEM
          Value* v = pop();
          Value* k = pop();
          set_items(top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<Value*> kv = pop_mark();
          set_items(top(), kv);
          break;
        }
        case 'a': {  // APPEND
          Value* v = pop();
          append(top(), {v});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<Value*> vs = pop_mark();
          append(top(), vs);
          break;
        }
        case 'Q': push(storage(pop())); break;  // BINPERSID
        case '.': {                              // STOP
          Value* result = pop();
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
  Value* make(Kind k) {
    if (arena_.size() >= kMaxValues) fail("too many objects");
    arena_.push_back(std::make_unique<Value>());
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
  Value* str(uint64_t len) {
    need(len);
    Value* v = make(Kind::Str);
    v->s.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return v;
  }
  Value* bytes(uint64_t len) {
    Value* v = str(len);
    v->kind = Kind::Bytes;
    return v;
  }
  Value* integer(int64_t i) {
    Value* v = make(Kind::Int);
    v->i = i;
    return v;
  }
  Value* boolean(bool b) {
    Value* v = make(Kind::Bool);
    v->i = b;
    return v;
  }
  void push(Value* v) {
    if (stack_.size() >= kMaxStack) fail("stack too deep");
    stack_.push_back(v);
  }
  Value* top() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("stack underflow");
    return stack_.back();
  }
  Value* pop() {
    Value* v = top();
    stack_.pop_back();
    return v;
  }
  std::vector<Value*> pop_n(size_t k) {
    if (stack_.size() < k || (!marks_.empty() && stack_.size() - k < marks_.back())) fail("stack underflow");
    std::vector<Value*> out(stack_.end() - static_cast<ptrdiff_t>(k), stack_.end());
    stack_.resize(stack_.size() - k);
    return out;
  }
  std::vector<Value*> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value*> out(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return out;
  }
  Value* sequence(Kind k, std::vector<Value*> items) {
    Value* v = make(k);
    v->items = std::move(items);
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
  void set_items(Value* d, const std::vector<Value*>& kv) {
    if (kv.size() % 2 != 0) fail("SETITEMS with an odd number of items");
    if (d->kind == Kind::Opaque) return;  // the state of an object this reader does not build
    if (d->kind != Kind::Dict) fail(std::string("SETITEM on a ") + kind_name(d->kind));
    for (size_t k = 0; k < kv.size(); k += 2) d->entries.emplace_back(kv[k], kv[k + 1]);
  }
  void append(Value* l, const std::vector<Value*>& vs) {
    if (l->kind == Kind::Opaque) return;
    if (l->kind != Kind::List) fail(std::string("APPEND on a ") + kind_name(l->kind));
    l->items.insert(l->items.end(), vs.begin(), vs.end());
  }

  // ('storage', torch.<X>Storage, key, location, numel) → the storage's record in the archive.
  Value* storage(Value* pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Kind::Str ||
        pid->items[0]->s != "storage")
      fail("a persistent id that is not a storage");
    Value* type = pid->items[1];
    Value* key = pid->items[2];
    Value* numel = pid->items[4];
    if (type->kind != Kind::Global || type->s != "torch" || key->kind != Kind::Str || numel->kind != Kind::Int ||
        numel->i < 0)
      fail("a malformed storage id");
    const StorageType* st = nullptr;
    for (const auto& t : kStorageTypes)
      if (type->s2 == t.name) st = &t;
    if (st == nullptr) fail("storage type torch." + printable(type->s2) + " is not supported");
    const std::string record = prefix_ + "data/" + key->s;
    const ZipArchive::Entry* e = zip_.find(record);
    if (e == nullptr) fail("storage '" + printable(key->s) + "' has no record " + printable(record));
    uint64_t need_bytes = 0;
    if (__builtin_mul_overflow(static_cast<uint64_t>(numel->i), dtype_size(st->dtype), &need_bytes) || need_bytes > e->size)
      fail("storage '" + printable(key->s) + "' claims " + std::to_string(numel->i) + " elements of " +
           dtype_name(st->dtype) + ", but its record has " + std::to_string(e->size) + " bytes");
    Value* v = make(Kind::Storage);
    v->dtype = st->dtype;
    v->data = zip_.data(*e);
    v->bytes = need_bytes;
    v->i = numel->i;
    v->key = key->s;
    return v;
  }

  std::vector<int64_t> int_tuple(Value* t, const char* what) {
    if (t->kind != Kind::Tuple && t->kind != Kind::List) fail(std::string("tensor ") + what + " is not a tuple");
    std::vector<int64_t> out;
    for (Value* x : t->items) {
      if (x->kind != Kind::Int || x->i < 0) fail(std::string("tensor ") + what + " holds a value that is not a size");
      out.push_back(x->i);
    }
    return out;
  }

  // torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)
  Value* rebuild_tensor(Value* args) {
    if (args->kind != Kind::Tuple || args->items.size() < 4) fail("_rebuild_tensor with the wrong arguments");
    Value* st = args->items[0];
    Value* off = args->items[1];
    if (st->kind != Kind::Storage) fail("a tensor whose storage is not a storage");
    if (off->kind != Kind::Int || off->i < 0) fail("a tensor with a bad storage offset");
    Value* t = make(Kind::Tensor);
    t->dtype = st->dtype;
    t->data = st->data;
    t->bytes = st->bytes;
    t->key = st->key;
    t->offset = off->i;
    t->shape = int_tuple(args->items[2], "size");
    t->strides = int_tuple(args->items[3], "stride");
    if (t->shape.size() != t->strides.size()) fail("a tensor whose size and stride differ in length");
    // Every element it reaches must lie inside the storage.
    uint64_t numel = 1, last = static_cast<uint64_t>(t->offset);
    bool overflow = false;
    for (size_t k = 0; k < t->shape.size(); ++k) {
      uint64_t s = static_cast<uint64_t>(t->shape[k]);
      overflow = overflow || __builtin_mul_overflow(numel, s, &numel);
      if (s > 0) {
        uint64_t reach = 0;
        overflow = overflow || __builtin_mul_overflow(s - 1, static_cast<uint64_t>(t->strides[k]), &reach) ||
                   __builtin_add_overflow(last, reach, &last);
      }
    }
    if (overflow) fail("storage '" + printable(t->key) + "': a tensor too large");
    if (numel > 0 && last >= static_cast<uint64_t>(st->i))
      fail("storage '" + printable(t->key) + "': a tensor reaches element " + std::to_string(last) + " of " +
           std::to_string(st->i));
    return t;
  }

  Value* call(Value* callable, Value* args) {
    if (callable->kind != Kind::Global) return make(Kind::Opaque);
    const std::string& m = callable->s;
    const std::string& n = callable->s2;
    auto arg = [&](size_t k) -> Value* {
      if (args->kind != Kind::Tuple || args->items.size() <= k) fail(m + "." + n + " with too few arguments");
      return args->items[k];
    };
    if (m == "collections" && n == "OrderedDict") {
      if (args->kind != Kind::Tuple || !args->items.empty()) fail("OrderedDict with arguments");
      return make(Kind::Dict);
    }
    if (m == "torch._utils" && (n == "_rebuild_tensor_v2" || n == "_rebuild_tensor")) return rebuild_tensor(args);
    if (m == "torch._utils" && (n == "_rebuild_parameter" || n == "_rebuild_parameter_with_state")) {
      Value* data = arg(0);
      if (data->kind != Kind::Tensor) fail("a parameter whose data is not a tensor");
      return data;
    }
    if (m == "torch._tensor" && n == "_rebuild_from_type_v2") {  // (func, type, args, state)
      if (++depth_ > 16) fail("tensors rebuilt within each other too deeply");
      Value* v = call(arg(0), arg(2));
      --depth_;
      return v;
    }
    if (m == "torch.jit._pickle" && n == "restore_type_tag") return arg(0);
    return make(Kind::Opaque);  // harmless unless it ends up where a tensor is expected
  }

  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  const std::string& where_;
  const ZipArchive& zip_;
  const std::string& prefix_;
  std::vector<std::unique_ptr<Value>> arena_;
  std::vector<Value*> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint32_t, Value*> memo_;
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

  Machine machine(zip.data(*pkl), static_cast<size_t>(pkl->size), where, zip, prefix);
  Value* result = machine.run();
  if (result->kind != Kind::Dict)
    throw Error(where, std::string("holds a ") + kind_name(result->kind) + ", not a dict of tensors");
  std::unordered_set<std::string> seen;
  tensors_.clear();
  for (const auto& [k, v] : result->entries) {
    if (k->kind != Kind::Str) throw Error(where, std::string("a key is a ") + kind_name(k->kind) + ", not a tensor name");
    const std::string what = "entry '" + printable(k->s) + "'";
    if (v->kind != Kind::Tensor) throw Error(where, what + " is a " + kind_name(v->kind) + ", not a tensor");
    if (!seen.insert(k->s).second) throw Error(where, what + " appears twice");
    TorchTensorInfo t;
    t.name = k->s;
    t.dtype = v->dtype;
    t.shape = v->shape;
    t.strides = v->strides;
    t.storage_offset = v->offset;
    t.storage = v->data;
    t.storage_bytes = v->bytes;
    t.storage_key = v->key;
    tensors_.push_back(std::move(t));
  }
}

}  // namespace cook::io
