// Entry point: the Switchboard server application.
int main() { return 0; }
