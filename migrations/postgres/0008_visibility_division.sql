-- Temporal's TemporalNamespaceDivision: which kind of execution a visibility row lists.
-- '' is a workflow; 'activity' a standalone activity, kept out of workflow lists.
ALTER TABLE executions_visibility ADD COLUMN division TEXT NOT NULL DEFAULT '';
