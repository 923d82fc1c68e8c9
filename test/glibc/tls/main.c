/*
 * __thread variables across units with every TLS access model, and a second
 * thread (pthread_create) that starts from the initial values and changes
 * only its own copies.
 */
#include <pthread.h>
#include <stdio.h>

#include "tls.h"

__thread int main_tls = 1000; /* the default model for this unit */

static void report(const char *who) {
  printf("%s: name=%s gd_counter=%d le_value=%d ld_sum=%ld gd_big[3]=%ld main_tls=%d\n", who, ie_name, ie_read_gd(), le_value,
         ld_sum(), le_read_gd_big(3), main_tls);
}

static int *worker_counter; /* &gd_counter as the worker sees it */

static void *worker(void *arg) {
  worker_counter = &gd_counter;
  ie_set_name((const char *)arg);
  report("thread start");
  int g = gd_bump(3);
  int l = ld_bump();
  int e = le_bump();
  main_tls += 5;
  printf("thread bumps: gd %d ld %d le %d\n", g, l, e);
  report("thread end");
  return (void *)(long)(gd_counter + le_value);
}

int main(void) {
  report("main start");
  int g = gd_bump(1);
  g = gd_bump(2);
  int l = ld_bump();
  l = ld_bump();
  int e = le_bump();
  main_tls = 2000;
  ie_set_name("main-thread");
  printf("main bumps: gd %d ld %d le %d\n", g, l, e);
  report("main before join");

  pthread_t t;
  if (pthread_create(&t, NULL, worker, "worker") != 0) {
    puts("pthread_create failed");
    return 1;
  }
  void *ret;
  pthread_join(t, &ret);
  printf("thread returned %ld\n", (long)ret);
  report("main after join");
  printf("the thread's gd_counter is a different object: %s\n", worker_counter != &gd_counter ? "yes" : "no");
  return (gd_counter + le_value + (int)ld_sum()) & 0x7f;
}
