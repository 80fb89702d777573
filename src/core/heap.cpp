#include "cook/core/heap.h"

#include <climits>
#include <cstdlib>  // defines __GLIBC__ on glibc systems
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cook {

void keep_freed_buffers_in_heap() {
#if defined(__GLIBC__)
  // glibc caps the mmap threshold at 32 MB, so only turning mmap off keeps the larger buffers
  // in the heap; a huge trim threshold stops free() from handing the top of the heap back.
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

}  // namespace cook
