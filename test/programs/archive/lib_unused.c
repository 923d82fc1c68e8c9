int unused_member_fn(void) { return 99; }
int shadowed_fn(void) { return 13; }
