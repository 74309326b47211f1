package kafka

// PollRecords is the most records one poll of a Server returns.
const PollRecords = defaultPollRecords
