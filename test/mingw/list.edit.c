#include <stdlib.h>
int counter = 7;
struct node { int v; struct node *next; };
int list_sum(int n) {
  struct node *head = 0;
  for (int i = 1; i <= n; i++) { struct node *x = malloc(sizeof *x); x->v = i * 2; x->next = head; head = x; counter++; }
  int s = 0;
  while (head) { struct node *nx = head->next; s += head->v; free(head); head = nx; }
  return s;
}
