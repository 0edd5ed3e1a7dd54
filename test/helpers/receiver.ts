/** The recording receiver: shared with bench/, so it lives in scripts/recording-receiver.ts. */
export * from '../../scripts/recording-receiver';
