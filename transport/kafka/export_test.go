package kafka

// PollRecords is the most records one poll returns: a member that dies
// without Stop leaves at most that many handled but uncommitted.
const PollRecords = defaultPollRecords
