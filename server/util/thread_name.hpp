#pragma once
// Names the calling thread, so `top -H`, `perf` and a debugger show what each of the relay's
// threads is (parley-store, parley-io-1, ...). At most 15 characters on Linux; elsewhere, or
// if the system refuses, the thread keeps its name. Never the main thread: on Linux its name
// is the process's (ps, pgrep, killall).
#if defined(__linux__) || defined(__APPLE__)
#include <pthread.h>
#endif

namespace parley {

inline void name_this_thread(const char* name) {
#if defined(__linux__)
  (void)pthread_setname_np(pthread_self(), name);
#elif defined(__APPLE__)
  (void)pthread_setname_np(name);
#else
  (void)name;
#endif
}

}  // namespace parley
