// expect: 42
/* Mixed code models: main.c follows the variant (-fno-pic or -fpie),
 * pic_unit.c is always -fpie, nopic_unit.c always -fno-pic, and the archive
 * holds one member of each kind (lib_pic.c, lib_nopic.c). Code and data
 * references go in every direction between them, so the same symbols are
 * reached through absolute, PC-relative and GOT-based relocations in one
 * link. */
#include "../start.h"
#include "mixed.h"

int main_data = 1;
int main_fn(int x) { return x + 1; }

int test_main(void) {
  if (pic_fn(1) != 1 + 100 + 1) return 1;
  if (nopic_fn(2) != 2 + 200 + 3) return 2;
  if (lib_pic_fn(3) != 3 + 1000 + 1) return 3;
  if (lib_nopic_fn(4) != 4 + 2000 + 1) return 4;
  if (pic_data_ptr() != &nopic_data || nopic_data_ptr() != &pic_data) return 5;
  if (lib_pic_ptr() != &main_data || lib_nopic_ptr() != &lib_pic_data) return 6;
  if (nopic_table[0] != pic_fn || nopic_table[1] != lib_pic_fn || pic_table[0] != nopic_fn ||
      pic_table[1] != lib_nopic_fn || pic_table[2] != main_fn)
    return 7;
  int s = 0;
  for (int i = 0; i < 2; i++) s += nopic_table[i](0);
  for (int i = 0; i < 3; i++) s += pic_table[i](0);
  if (s != 101 + 1001 + 203 + 2001 + 1) return 8;
  main_data = 5;
  if (lib_pic_fn(0) != 1005 || pic_fn(0) != 105) return 9;
  return 42;
}
