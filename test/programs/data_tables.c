// expect: 42
/* Pointers inside initialised data: a statically linked list of structs
 * (pointers to other elements, to strings and into other arrays), a
 * `const char *const names[]` string table, pointers with addends into a
 * char array, a pointer to a pointer table, and static local variables in
 * functions. Every pointer is an R_*_64 / ABS64 relocation in .data or
 * .data.rel.ro that the linker must fill in. */
#include "start.h"

struct node {
  const char *name;
  int value;
  struct node *next;
  const int *ref;
};

static int vals[] = {10, 20, 30};
struct node nodes[3] = {
    {"first", 1, &nodes[1], &vals[0]},
    {"second", 2, &nodes[2], &vals[1]},
    {"third", 3, 0, &vals[2]},
};
struct node *head = &nodes[0];
const struct node *const tail_ptr = &nodes[2];
int *const mid_value = &nodes[1].value;

const char *const names[] = {"zero", "one", "two", "three"};
static const char *const *const names_ptr = names;
char name_buf[] = "mutable";
char *mutable_ptrs[] = {name_buf, name_buf + 3, &name_buf[6]};
static const char table_blob[] = "abc\0def\0ghi";
static const char *const blob_ptrs[] = {table_blob + 8, table_blob + 4, table_blob};

static int next_id(void) {
  static int id = 100;
  return id++;
}

static const char *cached_name(int i) {
  static const char *last;
  if (i >= 0) last = names[i];
  return last;
}

int test_main(void) {
  int sum = 0, refs = 0, count = 0;
  for (const struct node *n = OPAQUE(head); n; n = n->next) {
    sum += n->value;
    refs += *n->ref;
    count++;
  }
  if (count != 3 || sum != 6 || refs != 60) return 1;
  if (tail_ptr->next != 0 || !str_eq(tail_ptr->name, "third")) return 2;
  if (!str_eq(nodes[1].name, "second") || *mid_value != 2) return 3;
  static const char *const want[] = {"zero", "one", "two", "three"};
  for (int i = 0; i < 4; i++)
    if (!str_eq(names_ptr[OPAQUE(i)], want[i])) return 4 + i;
  if (!str_eq(mutable_ptrs[1], "able") || *mutable_ptrs[2] != 'e') return 8;
  mutable_ptrs[1][0] = 'A';
  if (!str_eq(name_buf, "mutAble")) return 9;
  if (!str_eq(blob_ptrs[0], "ghi") || !str_eq(blob_ptrs[1], "def") || !str_eq(blob_ptrs[2], "abc")) return 10;
  if (next_id() != 100 || next_id() != 101 || next_id() != 102) return 11;
  if (!str_eq(cached_name(2), "two") || !str_eq(cached_name(-1), "two")) return 12;
  nodes[0].next = &nodes[2]; /* skip "second" */
  sum = 0;
  for (const struct node *n = OPAQUE(head); n; n = n->next) sum += n->value;
  if (sum != 4) return 13;
  return 42;
}
