extern const int trans_data[2];
int trans_counter;
int trans_fn(int x) {
  trans_counter++;
  return x * trans_data[1];
}
