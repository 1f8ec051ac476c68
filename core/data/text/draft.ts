// A text item as a source maps it, before the producer stamps its ingestion time.
import type { TextItem } from '../../../schemas/types.js';

export type TextDraft = Omit<TextItem, 'ingestedAt'>;
