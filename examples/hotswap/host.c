/* The hot-swap host: loads a plugin with dlopen and asks it for an answer
 * every 50 ms. When the plugin file is replaced (its device, inode, size or
 * modification time changes), it unloads the old plugin and loads the new
 * one, swapping one function pointer, without restarting.
 *
 *   host [PLUGIN [MAX_ITERATIONS [STOP_FILE]]]
 *
 * PLUGIN defaults to ./plugin.so, MAX_ITERATIONS to 0 (no limit). The host
 * stops after MAX_ITERATIONS polls or as soon as STOP_FILE exists. It prints
 * each distinct answer once, so its output does not depend on timing:
 *
 *   loaded plugin (generation 1)
 *   plugin says: hello from the plugin 1620
 *   reloaded plugin (generation 2)
 *   plugin says: hello from the plugin 3240
 *   host: stop file found after 97 iterations
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "plugin.h"

/* What identifies one version of the plugin file. A linker that renames a
 * new file over the old one changes the inode; one that rewrites the file
 * changes the modification time (and usually the size). */
struct identity {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
};

static int identify(const char *path, struct identity *id) {
  struct stat st;
  if (stat(path, &st) != 0) return 0; /* e.g. in the middle of a relink */
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->size = st.st_size;
  id->mtime = st.st_mtim;
  return 1;
}

static int same_identity(const struct identity *a, const struct identity *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void *handle;
static plugin_answer_fn answer; /* the one pointer that is swapped */
static unsigned generation;

/* Unload the current plugin (if any) and load the file at path. The old one
 * must go first: while it is loaded, dlopen of the same path returns it. */
static int load(const char *path) {
  if (handle) {
    answer = NULL;
    dlclose(handle);
    handle = NULL;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "host: cannot load %s: %s\n", path, dlerror());
    return 0;
  }
  plugin_answer_fn fn = (plugin_answer_fn)dlsym(h, PLUGIN_ENTRY);
  if (!fn) {
    fprintf(stderr, "host: %s has no %s: %s\n", path, PLUGIN_ENTRY, dlerror());
    dlclose(h);
    return 0;
  }
  handle = h;
  answer = fn;
  generation++;
  printf("%s plugin (generation %u)\n", generation == 1 ? "loaded" : "reloaded", generation);
  return 1;
}

int main(int argc, char **argv) {
  /* dlopen searches the library path for a name without a slash. */
  const char *arg = argc > 1 ? argv[1] : "./plugin.so";
  char path[4096];
  snprintf(path, sizeof path, "%s%s", strchr(arg, '/') ? "" : "./", arg);
  long max_iterations = argc > 2 ? atol(argv[2]) : 0;
  const char *stop_file = argc > 3 ? argv[3] : NULL;
  setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, also into a pipe */

  struct identity loaded = {0}, seen = {0}, now;
  int have_loaded = 0, have_seen = 0;
  char last[512] = "", current[512];
  long iteration = 0;
  for (;;) {
    if (stop_file && access(stop_file, F_OK) == 0) {
      printf("host: stop file found after %ld iterations\n", iteration);
      break;
    }
    if (max_iterations > 0 && iteration >= max_iterations) {
      printf("host: stopped after %ld iterations\n", iteration);
      break;
    }
    iteration++;

    /* A new version is loaded once its identity has held for one whole
     * poll: a linker that writes the file in place has finished by then. */
    if (identify(path, &now)) {
      int changed = !have_loaded || !same_identity(&now, &loaded);
      if (changed && have_seen && same_identity(&now, &seen)) {
        loaded = now;
        have_loaded = 1;
        load(path); /* on failure, retried when the file changes again */
      }
      seen = now;
      have_seen = 1;
    }

    if (answer) {
      struct plugin_answer a = {"", 0};
      answer(&a);
      snprintf(current, sizeof current, "%s %ld", a.text ? a.text : "(null)", a.number);
      if (strcmp(current, last) != 0) {
        printf("plugin says: %s\n", current);
        memcpy(last, current, sizeof last);
      }
    }

    struct timespec pause = {0, 50 * 1000 * 1000};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
    }
  }
  if (handle) dlclose(handle);
  return 0;
}
