const int trans_data[2] = {3, 10};
