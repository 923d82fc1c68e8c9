/* Archive member needed only by another member (transitive extraction). */
int lib_calls;

void lib_count(void) { lib_calls++; }
